// What this tab knows: the event on screen, its seats, the fan's selection and checkout.

import { API_KEY } from './api.js';

export const state = {
  view: 'events',
  eventId: null,
  event: null,
  seats: new Map(), // seat_id -> seat from the server
  layoutKey: '',
  tiers: [],
  selected: new Set(),
  checkout: null, // the live checkout of this tab: server fields + token
  checkoutGen: 0, // bumped whenever the checkout changes identity or ends; stale answers are dropped
  panel: 'selection',
  holding: false,
  paying: false,
  cancelling: false,
  finding: false,
  lastQueueSay: { position: null, at: 0 },
  warnedMinute: false,
};

// The map's side of things, installed by app.js so that the checkout can ask for a redraw.
export const hooks = { refreshSeats() {}, updateSeats() {}, renderSelection() {}, openEvent() {} };

// 'resuming' is the placeholder while a reloaded tab asks the server where its checkout stands.
export const LIVE = new Set(['resuming', 'queued', 'admitted']);
export const hasLiveCheckout = () => Boolean(state.checkout && LIVE.has(state.checkout.status));

// ---- this tab's checkout (sessionStorage: id + token, so a reload or a payment page resumes)

const SESSION_KEY = 'boxoffice.checkout';

export function saveSession(c) {
  try {
    sessionStorage.setItem(
      SESSION_KEY,
      JSON.stringify({ checkout_id: c.checkout_id, token: c.token, event_id: c.event_id, api: API_KEY }),
    );
  } catch {
    /* storage can be unavailable (private mode); the checkout still works in this page */
  }
}

export function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    if (!s || typeof s.checkout_id !== 'string' || typeof s.token !== 'string') return null;
    if (s.api !== API_KEY) return null; // belongs to another API: never send its token here
    return s;
  } catch {
    return null;
  }
}

export function clearSession() {
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch {
    /* ignore */
  }
}

// ---- the fan's bookings (localStorage), so their seats stay marked as theirs

const BOOKINGS_KEY = 'boxoffice.bookings';

function readBookings() {
  try {
    const all = JSON.parse(localStorage.getItem(BOOKINGS_KEY) || '{}');
    return all && typeof all === 'object' ? all : {};
  } catch {
    return {};
  }
}

export function rememberBooking(eventId, seatIds, reference) {
  const all = readBookings();
  const key = `${API_KEY}|${eventId}`;
  const before = Array.isArray(all[key] && all[key].seat_ids) ? all[key].seat_ids : [];
  all[key] = { seat_ids: [...new Set([...before, ...seatIds.map(String)])], reference: reference || null };
  try {
    localStorage.setItem(BOOKINGS_KEY, JSON.stringify(all));
  } catch {
    /* ignore */
  }
}

export function bookedSeatIds(eventId) {
  const entry = readBookings()[`${API_KEY}|${eventId}`];
  return new Set(entry && Array.isArray(entry.seat_ids) ? entry.seat_ids.map(String) : []);
}
