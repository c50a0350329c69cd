// Boxoffice fan page: events list, seat map, waiting room and checkout.
// Plain ES module, no build step, no dependencies.

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const SEAT_REFRESH_MS = 3000; // seat map refresh while the map is on screen
const QUEUE_POLL_MS = 1500; // checkout poll while waiting in line
const ADMITTED_POLL_MS = 5000; // checkout poll while paying (catches server-side changes)
const RETRY_POLL_MS = 3000; // after a failed poll
const REQUEST_TIMEOUT_MS = 15000;
const SESSION_KEY = 'boxoffice.checkout';

/**
 * The API base URL, without a trailing slash. '' means the page's own origin.
 * Order: `?api=` query parameter, then `<meta name="api-base" content="...">`, then same origin.
 */
export function resolveApiBase(search = location.search, doc = document) {
  const fromQuery = new URLSearchParams(search).get('api');
  const meta = doc.querySelector('meta[name="api-base"]');
  const fromMeta = meta ? meta.getAttribute('content') : '';
  for (const raw of [fromQuery, fromMeta]) {
    if (!raw || !raw.trim()) continue;
    try {
      const url = new URL(raw.trim(), location.href);
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        return (url.origin + url.pathname).replace(/\/+$/, '');
      }
    } catch {
      /* fall through to the warning */
    }
    console.warn('Ignoring invalid API base URL:', raw);
  }
  return '';
}

const API_BASE = resolveApiBase();
// Identifies the API a stored checkout belongs to, so a token is only ever sent back to its issuer.
const API_KEY = API_BASE || location.origin;

// ---------------------------------------------------------------------------
// HTTP: every request goes through api()
// ---------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 for network errors and timeouts
    this.code = code;
    this.data = data || null;
  }
}

let serverOffsetMs = 0; // server clock minus ours, when we can tell

function noteServerClock(res, sentAt) {
  const header = res.headers.get('Date');
  if (!header) return;
  const serverMs = Date.parse(header);
  if (Number.isNaN(serverMs)) return;
  const offset = serverMs + 500 - (sentAt + Date.now()) / 2; // Date has 1 s resolution
  // Only correct clocks that are clearly off; small differences are noise.
  serverOffsetMs = Math.abs(offset) > 3000 ? offset : 0;
}

function nowMs() {
  return Date.now() + serverOffsetMs;
}

function fallbackMessage(status) {
  if (status === 401 || status === 403) return 'This checkout belongs to another session.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many requests right now. Please wait a moment and try again.';
  if (status >= 500) return `Something went wrong on our side (error ${status}). Please try again.`;
  return `The request failed (error ${status}).`;
}

export async function api(path, { method = 'GET', body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const sentAt = Date.now();
  let res;
  let text = '';
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
    text = await res.text();
  } catch {
    throw new ApiError(0, 'network', "Can't reach the box office right now. Check your connection and try again.");
  } finally {
    clearTimeout(timer);
  }
  noteServerClock(res, sentAt);
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = data && typeof data.error === 'string' ? data.error : `http_${res.status}`;
    const message =
      data && typeof data.message === 'string' && data.message.trim() ? data.message : fallbackMessage(res.status);
    throw new ApiError(res.status, code, message, data);
  }
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------

let currency = 'USD';
function money(cents) {
  const n = Number(cents);
  if (!Number.isFinite(n)) return '';
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(n / 100);
  } catch {
    return `$${(n / 100).toFixed(2)}`;
  }
}

/** Parses ISO-8601; tolerates microseconds and a missing zone (taken as UTC). */
export function parseTime(value) {
  if (!value) return NaN;
  let s = String(value).trim().replace(' ', 'T');
  s = s.replace(/(\.\d{3})\d+/, '$1');
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(s)) s += 'Z';
  return Date.parse(s);
}

function formatDate(value) {
  const ms = parseTime(value);
  if (Number.isNaN(ms)) return value ? String(value) : '';
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' }).format(new Date(ms));
}

export function mmss(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function spokenDuration(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  const m = Math.floor(s / 60);
  const r = s % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (r || !m) parts.push(`${r} second${r === 1 ? '' : 's'}`);
  return parts.join(' ');
}

function etaText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s < 0) return 'Estimated wait: unknown';
  if (s < 5) return 'Estimated wait: a few seconds';
  if (s < 60) return `Estimated wait: about ${Math.round(s / 5) * 5} seconds`;
  const m = Math.round(s / 60);
  return `Estimated wait: about ${m} minute${m === 1 ? '' : 's'}`;
}

const naturalCompare = (a, b) =>
  String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });

function seatName(seat) {
  return `Section ${seat.section} row ${seat.row} seat ${seat.number}`;
}

function seatCode(seat) {
  return `${seat.section}-${seat.row}-${seat.number}`;
}

function codeForId(id) {
  const seat = state.seats.get(id);
  return seat ? seatCode(seat) : String(id);
}

const STATUS_WORDS = {
  available: 'available',
  selected: 'selected',
  mine: 'yours, on hold for you',
  held: 'held by someone else',
  booked: 'booked',
};

// ---------------------------------------------------------------------------
// DOM
// ---------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const el = {
  status: $('status'),
  eventsView: $('events-view'),
  events: $('events'),
  eventsLoading: $('events-loading'),
  mapView: $('map-view'),
  backToEvents: $('back-to-events'),
  eventTitle: $('event-title'),
  eventMeta: $('event-meta'),
  seatMap: $('seat-map'),
  seatsLoading: $('seats-loading'),
  mapUpdated: $('map-updated'),
  panelTitle: $('panel-title'),
  selectionPanel: $('selection-panel'),
  selectionEmpty: $('selection-empty'),
  selectionList: $('selection-list'),
  selectionTotalLine: $('selection-total-line'),
  selectionTotal: $('selection-total'),
  selectionBlocked: $('selection-blocked'),
  holdButton: $('hold-button'),
  queuePanel: $('queue-panel'),
  queuePosition: $('queue-position'),
  queueEta: $('queue-eta'),
  queueHold: $('queue-hold'),
  queueSeats: $('queue-seats'),
  checkoutPanel: $('checkout-panel'),
  countdown: $('countdown'),
  checkoutSeats: $('checkout-seats'),
  checkoutTotal: $('checkout-total'),
  payButton: $('pay-button'),
  cancelButton: $('cancel-button'),
  confirmation: $('confirmation'),
  confirmationRef: $('confirmation-ref'),
  confirmationSeats: $('confirmation-seats'),
  confirmationTotal: $('confirmation-total'),
  expiredPanel: $('expired-panel'),
  expiredTitle: $('expired-title'),
  expiredMessage: $('expired-message'),
  backToMap: $('back-to-map'),
};

let statusSeq = 0;
/** Shows a message in the polite live region (#status). kind: info | error | success. */
function say(message, kind = 'info') {
  const seq = ++statusSeq;
  el.status.dataset.kind = kind;
  // Clear first so the same text said twice is announced twice.
  el.status.textContent = '';
  // (A timer, not requestAnimationFrame: that does not run in background tabs.)
  setTimeout(() => {
    if (seq === statusSeq) el.status.textContent = message;
  }, 60);
  if (kind === 'error') console.info('[status]', message);
}

function clearStatus() {
  statusSeq++;
  el.status.textContent = '';
  el.status.dataset.kind = '';
}

/** Moves focus to target only when focus was lost (on body or inside something now hidden). */
function focusIfLost(target) {
  const active = document.activeElement;
  if (!active || active === document.body || !active.isConnected || active.closest('[hidden]') || active.disabled) {
    if (!target.hasAttribute('tabindex') && !/^(BUTTON|A|INPUT)$/.test(target.tagName)) {
      target.setAttribute('tabindex', '-1');
    }
    target.focus();
  }
}

function fillSeatLines(list, seats) {
  list.replaceChildren(
    ...seats.map((seat) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = seat.section !== undefined ? seatName(seat) : String(seat.seat_id);
      const price = document.createElement('span');
      price.className = 'price';
      price.textContent = money(seat.price_cents);
      li.dataset.seatId = seat.seat_id;
      li.append(name, price);
      return li;
    }),
  );
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

const state = {
  view: 'events',
  eventId: null,
  event: null,
  seats: new Map(), // seat_id -> seat from the server
  order: [], // seat ids in map order
  buttons: new Map(), // seat_id -> button
  layoutKey: '',
  selected: new Set(),
  checkout: null, // the live checkout of this tab: server fields + token
  checkoutGen: 0, // bumped whenever the checkout changes identity or ends; stale answers are dropped
  panel: 'selection',
  holding: false,
  paying: false,
  cancelling: false,
  lastQueueSay: { position: null, at: 0 },
  warnedMinute: false,
};

let seatTimer = null;
let seatSeq = 0;
let checkoutTimer = null;
let countdownTimer = null;
let pollFailures = 0;

// 'resuming' is the placeholder while a reloaded tab asks the server where its checkout stands.
const LIVE = new Set(['resuming', 'queued', 'admitted']);
const hasLiveCheckout = () => Boolean(state.checkout && LIVE.has(state.checkout.status));

// ---------------------------------------------------------------------------
// Session storage (per tab): checkout id + token, so a reload resumes
// ---------------------------------------------------------------------------

function saveSession(c) {
  try {
    sessionStorage.setItem(
      SESSION_KEY,
      JSON.stringify({ checkout_id: c.checkout_id, token: c.token, event_id: c.event_id, api: API_KEY }),
    );
  } catch {
    /* storage can be unavailable (private mode); the checkout still works in this page */
  }
}

function loadSession() {
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

function clearSession() {
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch {
    /* ignore */
  }
}

// ---------------------------------------------------------------------------
// Routing: #/ (events) and #/events/<id> (seat map)
// ---------------------------------------------------------------------------

function eventHash(id) {
  return `#/events/${enc(id)}`;
}

function route() {
  const m = location.hash.match(/^#\/events\/([^/]+)$/);
  const wanted = m ? decodeURIComponent(m[1]) : null;
  if (hasLiveCheckout() && wanted !== state.checkout.event_id) {
    // One checkout per tab: keep the fan on the event they are holding seats for.
    say('You have seats on hold. Pay for them or cancel the checkout before choosing another event.');
    history.replaceState(null, '', eventHash(state.checkout.event_id));
    openEvent(state.checkout.event_id);
    return;
  }
  if (wanted) openEvent(wanted);
  else showEvents();
}

function showView(name) {
  state.view = name;
  el.eventsView.hidden = name !== 'events';
  el.mapView.hidden = name !== 'map';
}

// ---------------------------------------------------------------------------
// Events list
// ---------------------------------------------------------------------------

async function showEvents() {
  stopSeatRefresh();
  showView('events');
  document.title = 'Boxoffice: upcoming events';
  el.eventsLoading.hidden = false;
  el.eventsLoading.textContent = 'Loading events…';
  try {
    const data = await api('/events');
    const events = Array.isArray(data) ? data : (data && data.events) || [];
    if (state.view !== 'events') return;
    renderEvents(events);
  } catch (e) {
    el.eventsLoading.textContent = 'The events could not be loaded.';
    say(e.message, 'error');
  }
}

function renderEvents(events) {
  el.eventsLoading.hidden = events.length > 0;
  if (!events.length) el.eventsLoading.textContent = 'No events are on sale right now.';
  el.events.replaceChildren(
    ...events.map((ev) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.className = 'event-card';
      a.href = eventHash(ev.id);
      a.dataset.eventId = ev.id;
      const name = document.createElement('span');
      name.className = 'event-name';
      name.textContent = ev.name;
      const venue = document.createElement('span');
      venue.className = 'event-venue';
      venue.textContent = ev.venue || '';
      const when = document.createElement('time');
      when.className = 'event-date';
      when.dateTime = ev.starts_at || '';
      when.textContent = formatDate(ev.starts_at);
      const avail = document.createElement('span');
      avail.className = 'event-avail';
      const left = Number(ev.seats_available);
      avail.textContent =
        left === 0 ? 'Sold out' : `${left} of ${ev.seats_total} seat${ev.seats_total === 1 ? '' : 's'} available`;
      if (left === 0) avail.classList.add('sold-out');
      a.append(name, venue, when, avail);
      li.append(a);
      return li;
    }),
  );
}

// ---------------------------------------------------------------------------
// Seat map
// ---------------------------------------------------------------------------

async function openEvent(id) {
  showView('map');
  if (state.eventId !== id) {
    state.eventId = id;
    state.event = null;
    state.seats = new Map();
    state.order = [];
    state.buttons = new Map();
    state.layoutKey = '';
    state.selected.clear();
    el.seatMap.replaceChildren();
    el.seatsLoading.hidden = false;
    el.seatsLoading.textContent = 'Loading seats…';
    el.eventTitle.textContent = 'Loading event…';
    el.eventMeta.textContent = '';
    if (!hasLiveCheckout()) showPanel('selection');
  }
  renderSelection();
  loadEventDetails(id);
  startSeatRefresh();
}

async function loadEventDetails(id) {
  try {
    const ev = await api(`/events/${enc(id)}`);
    if (state.eventId !== id) return;
    state.event = ev;
    if (ev && typeof ev.currency === 'string' && /^[A-Z]{3}$/i.test(ev.currency)) currency = ev.currency.toUpperCase();
    el.eventTitle.textContent = ev.name || 'Event';
    document.title = `Boxoffice: ${ev.name || 'seats'}`;
    renderEventMeta();
  } catch (e) {
    if (state.eventId !== id) return;
    if (e.status === 404) {
      say(`That event was not found. ${e.message === 'Not found.' ? '' : e.message}`.trim(), 'error');
      if (!hasLiveCheckout()) location.hash = '#/';
    } else {
      el.eventTitle.textContent = 'Event';
      say(e.message, 'error');
    }
  }
}

function renderEventMeta() {
  const ev = state.event;
  const parts = [];
  if (ev && ev.venue) parts.push(ev.venue);
  if (ev && ev.starts_at) parts.push(formatDate(ev.starts_at));
  if (state.seats.size) {
    let free = 0;
    for (const s of state.seats.values()) if (s.status === 'available') free++;
    parts.push(`${free} of ${state.seats.size} seats available`);
  }
  el.eventMeta.textContent = parts.join(' · ');
}

function startSeatRefresh() {
  stopSeatRefresh();
  refreshSeats();
}

function stopSeatRefresh() {
  clearTimeout(seatTimer);
  seatTimer = null;
  seatSeq++; // drop answers still in flight
}

async function refreshSeats() {
  clearTimeout(seatTimer);
  const id = state.eventId;
  const seq = ++seatSeq;
  try {
    const data = await api(`/events/${enc(id)}/seats`);
    if (seq !== seatSeq || state.eventId !== id || state.view !== 'map') return;
    const seats = Array.isArray(data) ? data : (data && data.seats) || [];
    applySeats(seats);
    el.mapUpdated.textContent = `Seat map updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (seq !== seatSeq) return;
    if (!state.seats.size) {
      el.seatsLoading.hidden = false;
      el.seatsLoading.textContent = 'The seat map could not be loaded. Retrying…';
      if (e.status !== 404) say(e.message, 'error');
    }
  }
  if (seq === seatSeq && state.view === 'map' && state.eventId === id) {
    seatTimer = setTimeout(refreshSeats, SEAT_REFRESH_MS);
  }
}

function applySeats(list) {
  const seats = new Map();
  for (const s of list) if (s && s.seat_id !== undefined) seats.set(String(s.seat_id), { ...s, seat_id: String(s.seat_id) });
  state.seats = seats;

  const key = [...seats.values()].map((s) => `${s.seat_id}|${s.section}|${s.row}|${s.number}`).join(',');
  if (key !== state.layoutKey) buildMap(seats, key);
  el.seatsLoading.hidden = seats.size > 0;
  if (!seats.size) el.seatsLoading.textContent = 'This event has no seats.';

  // Seats chosen here but taken meanwhile leave the selection, and the fan is told.
  const lost = [];
  for (const id of [...state.selected]) {
    const s = seats.get(id);
    if (!s || s.status !== 'available') {
      state.selected.delete(id);
      lost.push(s ? seatCode(s) : id);
    }
  }
  if (lost.length) {
    say(`Sorry, ${lost.length === 1 ? 'this seat was' : 'these seats were'} just taken: ${lost.join(', ')}.`, 'error');
  }
  updateSeatButtons();
  renderSelection();
  renderEventMeta();
}

function buildMap(seats, key) {
  const focusedId = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.seatId;
  state.layoutKey = key;
  state.buttons = new Map();

  // section -> row -> seats
  const sections = new Map();
  for (const s of seats.values()) {
    const sec = String(s.section);
    if (!sections.has(sec)) sections.set(sec, new Map());
    const rows = sections.get(sec);
    const row = String(s.row);
    if (!rows.has(row)) rows.set(row, []);
    rows.get(row).push(s);
  }

  const order = [];
  const frag = document.createDocumentFragment();
  const sectionNames = [...sections.keys()].sort(naturalCompare);
  sectionNames.forEach((sec, si) => {
    const section = document.createElement('section');
    section.className = 'seat-section';
    section.dataset.section = sec;
    const h = document.createElement('h3');
    h.id = `section-${si}`;
    h.textContent = `Section ${sec}`;
    section.setAttribute('aria-labelledby', h.id);
    section.append(h);

    const rows = sections.get(sec);
    for (const rowName of [...rows.keys()].sort(naturalCompare)) {
      const rowEl = document.createElement('div');
      rowEl.className = 'seat-row';
      rowEl.setAttribute('role', 'group');
      rowEl.setAttribute('aria-label', `Section ${sec} row ${rowName}`);
      rowEl.dataset.row = rowName;
      const label = document.createElement('span');
      label.className = 'row-label';
      label.setAttribute('aria-hidden', 'true');
      label.textContent = rowName;
      const seatsEl = document.createElement('div');
      seatsEl.className = 'row-seats';
      const rowSeats = rows.get(rowName).sort((a, b) => naturalCompare(a.number, b.number));
      for (const s of rowSeats) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'seat';
        b.dataset.seatId = s.seat_id;
        const num = document.createElement('span');
        num.className = 'seat-num';
        num.textContent = s.number;
        b.append(num);
        seatsEl.append(b);
        state.buttons.set(s.seat_id, b);
        order.push(s.seat_id);
      }
      const labelEnd = label.cloneNode(true);
      labelEnd.classList.add('row-label-end');
      rowEl.append(label, seatsEl, labelEnd);
      section.append(rowEl);
    }
    frag.append(section);
  });
  state.order = order;
  el.seatMap.replaceChildren(frag);
  // On a narrow screen the map scrolls sideways: start centred on the stage.
  const scroller = el.seatMap.closest('.map-scroll');
  if (scroller) scroller.scrollLeft = Math.max(0, (scroller.scrollWidth - scroller.clientWidth) / 2);
  if (focusedId && state.buttons.has(focusedId)) {
    updateSeatButtons();
    state.buttons.get(focusedId).focus();
  }
}

function checkoutSeatIds() {
  if (!hasLiveCheckout() || state.checkout.event_id !== state.eventId) return new Set();
  const ids = state.checkout.seat_ids || (state.checkout.seats || []).map((s) => s.seat_id);
  return new Set((ids || []).map(String));
}

function displayStatus(seat, mine) {
  if (mine.has(seat.seat_id) && seat.status !== 'available') return 'mine';
  if (seat.status === 'available') return state.selected.has(seat.seat_id) ? 'selected' : 'available';
  if (seat.status === 'booked') return 'booked';
  return 'held'; // held, or anything unknown: not choosable
}

function updateSeatButtons() {
  const mine = checkoutSeatIds();
  const locked = hasLiveCheckout() || state.holding;
  for (const [id, b] of state.buttons) {
    const seat = state.seats.get(id);
    if (!seat) continue;
    const ds = displayStatus(seat, mine);
    const label = `${seatName(seat)}, ${STATUS_WORDS[ds]}, ${money(seat.price_cents)}`;
    if (b.dataset.status !== ds) b.dataset.status = ds;
    if (b.getAttribute('aria-label') !== label) {
      b.setAttribute('aria-label', label);
      b.title = label;
    }
    b.setAttribute('aria-pressed', ds === 'selected' ? 'true' : 'false');
    const choosable = ds === 'available' || ds === 'selected';
    b.disabled = !choosable || locked;
  }
}

function toggleSeat(id) {
  const seat = state.seats.get(id);
  if (!seat || seat.status !== 'available' || hasLiveCheckout() || state.holding) return;
  if (state.selected.has(id)) state.selected.delete(id);
  else state.selected.add(id);
  updateSeatButtons();
  renderSelection();
}

function selectedSeats() {
  return state.order.filter((id) => state.selected.has(id)).map((id) => state.seats.get(id));
}

function renderSelection() {
  const seats = selectedSeats();
  const live = hasLiveCheckout();
  el.selectionEmpty.hidden = seats.length > 0 || live;
  fillSeatLines(el.selectionList, seats);
  el.selectionTotalLine.hidden = seats.length === 0;
  el.selectionTotal.textContent = money(seats.reduce((sum, s) => sum + Number(s.price_cents || 0), 0));
  el.selectionBlocked.hidden = !live;
  el.holdButton.disabled = seats.length === 0 || live || state.holding;
  el.holdButton.textContent = state.holding
    ? 'Holding…'
    : seats.length > 1
      ? `Hold ${seats.length} seats`
      : seats.length === 1
        ? 'Hold 1 seat'
        : 'Hold seats';
}

// Arrow keys move between seats: left/right along a row, up/down to the nearest seat in the next row.
function onMapKeydown(e) {
  const b = e.target.closest && e.target.closest('button.seat');
  if (!b) return;
  const row = b.closest('.seat-row');
  const rowButtons = (r) => [...r.querySelectorAll('button.seat')];
  const enabled = (list) => list.filter((x) => !x.disabled);
  let target = null;
  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
    const list = rowButtons(row);
    const i = list.indexOf(b);
    const step = e.key === 'ArrowRight' ? 1 : -1;
    for (let j = i + step; j >= 0 && j < list.length; j += step) {
      if (!list[j].disabled) {
        target = list[j];
        break;
      }
    }
  } else if (e.key === 'Home' || e.key === 'End') {
    const list = enabled(rowButtons(row));
    target = e.key === 'Home' ? list[0] : list[list.length - 1];
  } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
    const rows = [...el.seatMap.querySelectorAll('.seat-row')];
    const step = e.key === 'ArrowDown' ? 1 : -1;
    const center = b.getBoundingClientRect().left + b.offsetWidth / 2;
    for (let r = rows.indexOf(row) + step; r >= 0 && r < rows.length; r += step) {
      const list = enabled(rowButtons(rows[r]));
      if (!list.length) continue;
      target = list.reduce((best, x) => {
        const d = Math.abs(x.getBoundingClientRect().left + x.offsetWidth / 2 - center);
        return !best || d < best.d ? { x, d } : best;
      }, null).x;
      break;
    }
  } else {
    return;
  }
  e.preventDefault();
  if (target) target.focus();
}

// ---------------------------------------------------------------------------
// Panels
// ---------------------------------------------------------------------------

function showPanel(name) {
  state.panel = name;
  el.selectionPanel.hidden = name !== 'selection';
  el.queuePanel.hidden = name !== 'queue';
  el.checkoutPanel.hidden = name !== 'checkout';
  el.confirmation.hidden = name !== 'confirmation';
  el.expiredPanel.hidden = name !== 'expired';
  el.cancelButton.hidden = !(name === 'queue' || name === 'checkout');
  el.cancelButton.textContent = name === 'queue' ? 'Leave the line and release seats' : 'Cancel';
  el.backToMap.hidden = !(name === 'confirmation' || name === 'expired');
  el.panelTitle.textContent =
    name === 'queue'
      ? 'Waiting room'
      : name === 'checkout'
        ? 'Checkout'
        : name === 'confirmation'
          ? 'Your booking'
          : 'Your seats';
}

function checkoutSeats(c) {
  if (Array.isArray(c.seats) && c.seats.length) return c.seats;
  return (c.seat_ids || []).map((id) => state.seats.get(String(id)) || { seat_id: id });
}

function checkoutTotal(c) {
  if (c.total_cents !== undefined && c.total_cents !== null) return money(c.total_cents);
  return money(checkoutSeats(c).reduce((sum, s) => sum + Number(s.price_cents || 0), 0));
}

// ---------------------------------------------------------------------------
// Checkout lifecycle
// ---------------------------------------------------------------------------

async function holdSeats() {
  if (state.holding || hasLiveCheckout()) return;
  const ids = state.order.filter((id) => state.selected.has(id));
  if (!ids.length) return;
  const eventId = state.eventId;
  state.holding = true;
  renderSelection();
  updateSeatButtons();
  say(`Holding ${ids.length === 1 ? 'your seat' : `your ${ids.length} seats`}…`);
  try {
    const data = await api(`/events/${enc(eventId)}/checkouts`, { method: 'POST', body: { seat_ids: ids } });
    state.holding = false;
    if (!data || !data.checkout_id || !data.token) throw new ApiError(500, 'bad_response', 'The box office gave an unexpected answer. Please try again.');
    state.selected.clear();
    beginCheckout({ ...data, event_id: data.event_id || eventId });
    refreshSeats();
  } catch (e) {
    state.holding = false;
    if (e.code === 'seats_unavailable') {
      const taken = Array.isArray(e.data && e.data.seat_ids) ? e.data.seat_ids.map(String) : [];
      for (const id of taken) state.selected.delete(id);
      if (taken.length) {
        say(`Sorry, these seats were just taken: ${taken.map(codeForId).join(', ')}. Please choose other seats.`, 'error');
      } else {
        say(`Sorry, some of those seats were just taken. ${e.message}`, 'error');
      }
      refreshSeats();
    } else {
      say(e.message, 'error');
      if (e.status === 404) refreshSeats();
    }
    updateSeatButtons();
    renderSelection();
  }
}

function beginCheckout(data) {
  state.checkoutGen++;
  pollFailures = 0;
  state.lastQueueSay = { position: null, at: 0 };
  state.warnedMinute = false;
  state.checkout = { ...data, checkout_id: String(data.checkout_id) };
  saveSession(state.checkout);
  applyCheckout(data, { fresh: true });
}

/** Merges a server view of the checkout and shows the matching panel. */
function applyCheckout(data, { fresh = false } = {}) {
  const c = state.checkout;
  if (!c) return;
  const before = c.status;
  for (const [k, v] of Object.entries(data || {})) {
    if (k !== 'token' && v !== undefined) c[k] = v;
  }
  if (!c.event_id) c.event_id = state.eventId;
  c.event_id = String(c.event_id);
  const changed = fresh || before !== c.status;

  switch (c.status) {
    case 'queued':
      renderQueue(c, changed);
      scheduleCheckoutPoll(QUEUE_POLL_MS);
      startCountdown();
      break;
    case 'admitted':
      renderCheckout(c, changed);
      scheduleCheckoutPoll(ADMITTED_POLL_MS);
      startCountdown();
      break;
    case 'completed':
      finishCompleted(c);
      break;
    case 'expired':
      finishExpired();
      break;
    case 'cancelled':
      finishEnded('This checkout was cancelled and its seats have been released.');
      break;
    default:
      // Unknown status: keep asking.
      scheduleCheckoutPoll(QUEUE_POLL_MS);
  }
  updateSeatButtons();
  renderSelection();
}

function renderQueue(c, changed) {
  if (changed) showPanel('queue');
  const ahead = Math.max(0, Number(c.position) || 0);
  el.queuePosition.dataset.position = String(ahead);
  el.queuePosition.textContent =
    ahead === 0
      ? "You are in line: you're next"
      : `You are in line: ${ahead} ${ahead === 1 ? 'person' : 'people'} ahead`;
  el.queueEta.textContent = etaText(c.eta_seconds);
  fillSeatLines(el.queueSeats, checkoutSeats(c));

  const last = state.lastQueueSay;
  const now = Date.now();
  if (changed || (ahead !== last.position && (now - last.at > 10000 || ahead === 0))) {
    say(`${el.queuePosition.textContent}. ${el.queueEta.textContent}.`);
    state.lastQueueSay = { position: ahead, at: now };
  }
  if (changed) focusIfLost(el.panelTitle);
}

function renderCheckout(c, changed) {
  if (changed) showPanel('checkout');
  fillSeatLines(el.checkoutSeats, checkoutSeats(c));
  el.checkoutTotal.textContent = checkoutTotal(c);
  el.payButton.disabled = state.paying;
  el.cancelButton.disabled = state.paying || state.cancelling;
  if (changed) {
    const left = secondsLeft(c);
    say(
      Number.isFinite(left)
        ? `It's your turn. You have ${spokenDuration(left)} to pay for your seats.`
        : "It's your turn. Pay to confirm your seats.",
      'success',
    );
    focusIfLost(el.payButton);
  }
}

function secondsLeft(c) {
  const t = parseTime(c && c.expires_at);
  if (Number.isNaN(t)) return NaN;
  return Math.max(0, (t - nowMs()) / 1000);
}

function startCountdown() {
  if (!countdownTimer) countdownTimer = setInterval(tickCountdown, 250);
  tickCountdown();
}

function stopCountdown() {
  clearInterval(countdownTimer);
  countdownTimer = null;
}

function tickCountdown() {
  const c = state.checkout;
  if (!hasLiveCheckout()) return stopCountdown();
  const left = secondsLeft(c);
  if (Number.isNaN(left)) {
    el.countdown.textContent = '--:--';
    el.queueHold.textContent = '';
    return;
  }
  const shown = Math.ceil(left);
  if (c.status === 'admitted') {
    const text = mmss(shown);
    if (el.countdown.textContent !== text) el.countdown.textContent = text;
    el.countdown.dataset.seconds = String(shown);
    el.countdown.classList.toggle('urgent', shown <= 60);
    if (shown <= 60 && shown > 0 && !state.warnedMinute) {
      state.warnedMinute = true;
      say(`Less than a minute left to pay.`);
    }
  } else {
    el.queueHold.textContent = `Your seats are held for up to ${mmss(shown)} while you wait.`;
  }
  if (left <= 0 && !state.paying) {
    // Past expires_at the server releases the seats; don't wait for a poll to say so.
    finishExpired();
  }
}

function scheduleCheckoutPoll(delay) {
  clearTimeout(checkoutTimer);
  checkoutTimer = setTimeout(pollCheckout, delay);
}

async function pollCheckout() {
  clearTimeout(checkoutTimer);
  const c = state.checkout;
  if (!c) return;
  const gen = state.checkoutGen;
  try {
    const data = await api(`/checkouts/${enc(c.checkout_id)}`, { token: c.token });
    if (gen !== state.checkoutGen) return;
    if (pollFailures > 0) say('Connection restored.');
    pollFailures = 0;
    applyCheckout(data);
  } catch (e) {
    if (gen !== state.checkoutGen) return;
    if (e.status === 401 || e.status === 403 || e.status === 404) {
      finishEnded('Your checkout could not be found any more. If you had seats on hold, they have been released.');
      return;
    }
    pollFailures++;
    if (pollFailures === 1 || pollFailures % 10 === 0) say(`${e.message} Retrying…`, 'error');
    scheduleCheckoutPoll(RETRY_POLL_MS);
  }
}

/** Ends this tab's checkout: stops timers, forgets the token. Returns the last known checkout. */
function endCheckout() {
  const c = state.checkout;
  state.checkoutGen++;
  clearTimeout(checkoutTimer);
  checkoutTimer = null;
  stopCountdown();
  clearSession();
  state.checkout = null;
  state.paying = false;
  state.cancelling = false;
  el.payButton.disabled = false;
  el.cancelButton.disabled = false;
  el.payButton.textContent = 'Pay (test provider)';
  return c;
}

function finishCompleted(c) {
  endCheckout();
  showPanel('confirmation');
  el.confirmationRef.textContent = c.checkout_id;
  fillSeatLines(el.confirmationSeats, checkoutSeats(c));
  el.confirmationTotal.textContent = checkoutTotal(c);
  const n = checkoutSeats(c).length;
  say(`Booking confirmed. ${n === 1 ? 'Your seat is' : `Your ${n} seats are`} booked.`, 'success');
  focusIfLost(el.confirmation.querySelector('h3'));
  refreshAfterEnd();
}

function finishExpired() {
  if (!state.checkout) return;
  endCheckout();
  showPanel('expired');
  el.expiredTitle.textContent = 'Hold expired';
  el.expiredMessage.textContent = 'Your hold has expired; the seats have been released.';
  say('Your hold has expired; the seats have been released.', 'error');
  focusIfLost(el.backToMap);
  refreshAfterEnd();
}

function finishEnded(message) {
  endCheckout();
  showPanel('expired');
  el.expiredTitle.textContent = 'Checkout ended';
  el.expiredMessage.textContent = message;
  say(message, 'error');
  focusIfLost(el.backToMap);
  refreshAfterEnd();
}

function refreshAfterEnd() {
  updateSeatButtons();
  renderSelection();
  if (state.view === 'map') refreshSeats();
}

async function pay() {
  const c = state.checkout;
  if (!c || c.status !== 'admitted' || state.paying) return;
  const gen = state.checkoutGen;
  state.paying = true;
  el.payButton.disabled = true;
  el.cancelButton.disabled = true;
  el.payButton.textContent = 'Paying…';
  say('Confirming your payment…');
  try {
    const data = await api(`/checkouts/${enc(c.checkout_id)}/complete`, { method: 'POST', token: c.token });
    if (gen !== state.checkoutGen) return;
    state.paying = false;
    applyCheckout({ ...(data || {}), status: (data && data.status) || 'completed' });
  } catch (e) {
    if (gen !== state.checkoutGen) return;
    state.paying = false;
    el.payButton.textContent = 'Pay (test provider)';
    el.payButton.disabled = false;
    el.cancelButton.disabled = false;
    if (e.code === 'checkout_expired') {
      finishExpired();
    } else if (e.code === 'not_admitted') {
      say(`${e.message} Please wait for your turn.`, 'error');
      pollCheckout();
    } else if (e.status === 401 || e.status === 403 || e.status === 404) {
      finishEnded(e.message);
    } else {
      say(`${e.message} Your payment was not confirmed; you can try again.`, 'error');
      tickCountdown(); // the hold may have run out meanwhile
    }
  }
}

async function cancelCheckout() {
  const c = state.checkout;
  if (!c || state.cancelling || state.paying) return;
  const gen = state.checkoutGen;
  state.cancelling = true;
  el.cancelButton.disabled = true;
  el.payButton.disabled = true;
  say('Cancelling…');
  try {
    await api(`/checkouts/${enc(c.checkout_id)}`, { method: 'DELETE', token: c.token });
  } catch (e) {
    if (gen !== state.checkoutGen) return;
    // 404/409/401/403: the checkout is over for the server already; anything else: try again.
    if (!(e.status >= 400 && e.status < 500)) {
      state.cancelling = false;
      el.cancelButton.disabled = false;
      el.payButton.disabled = false;
      say(`${e.message} Your checkout was not cancelled.`, 'error');
      return;
    }
  }
  if (gen !== state.checkoutGen) return;
  endCheckout();
  showPanel('selection');
  say('Checkout cancelled. Your seats have been released.');
  focusIfLost(el.panelTitle);
  refreshAfterEnd();
}

function backToMap() {
  showPanel('selection');
  clearStatus();
  renderSelection();
  updateSeatButtons();
  if (state.view === 'map') refreshSeats();
  const first = [...state.buttons.values()].find((b) => !b.disabled);
  (first || el.panelTitle).focus();
}

// ---------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------

el.seatMap.addEventListener('click', (e) => {
  const b = e.target.closest('button.seat');
  if (b && !b.disabled) toggleSeat(b.dataset.seatId);
});
el.seatMap.addEventListener('keydown', onMapKeydown);
el.holdButton.addEventListener('click', holdSeats);
el.payButton.addEventListener('click', pay);
el.cancelButton.addEventListener('click', cancelCheckout);
el.backToMap.addEventListener('click', backToMap);
el.backToEvents.addEventListener('click', () => {
  location.hash = '#/';
});
window.addEventListener('hashchange', route);

// A background tab's timers are throttled; catch up as soon as it is visible again.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  if (hasLiveCheckout()) {
    tickCountdown();
    pollCheckout();
  }
  if (state.view === 'map') refreshSeats();
});

function init() {
  el.panelTitle.setAttribute('tabindex', '-1');
  showPanel('selection');
  const saved = loadSession();
  if (saved) {
    // Resume this tab's checkout after a reload.
    state.checkoutGen++;
    state.checkout = {
      checkout_id: saved.checkout_id,
      token: saved.token,
      event_id: saved.event_id ? String(saved.event_id) : null,
      status: 'resuming',
    };
    say('Resuming your checkout…');
    if (state.checkout.event_id) {
      history.replaceState(null, '', eventHash(state.checkout.event_id));
      openEvent(state.checkout.event_id);
    }
    pollCheckout().then(() => {
      if (state.view === 'map') return;
      // The event id may only be known from the server's answer.
      if (state.checkout && state.checkout.event_id) {
        history.replaceState(null, '', eventHash(state.checkout.event_id));
        openEvent(state.checkout.event_id);
      } else {
        route();
      }
    });
    return;
  }
  route();
}

init();
