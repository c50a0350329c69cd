// Boxoffice fan page: events list, the venue's seat map, best available, waiting room and
// checkout. Plain ES modules (js/), no build step, no dependencies.

import { api, enc } from './js/api.js';
import { cancelCheckout, checkoutSeatIds, holdSeats, pay, pollCheckout, resumeCheckout, showPanel, tickCountdown } from './js/checkout.js';
import { clearStatus, el, say } from './js/dom.js';
import { fillSeatLines } from './js/dom.js';
import { formatDate, money, seatName, seatsName, setCurrency } from './js/format.js';
import { SeatMap, priceTiers } from './js/seatmap.js';
import { bookedSeatIds, hasLiveCheckout, hooks, loadSession, state } from './js/state.js';

const SEAT_REFRESH_MS = 3000; // seat map refresh while the map is on screen

const STATUS_WORDS = {
  available: 'available',
  selected: 'selected',
  mine: 'yours, on hold for you',
  yours: 'yours, booked',
  held: 'held by someone else',
  booked: 'booked',
};

const map = new SeatMap(el.seatMap, el.mapViewport, { onToggle: toggleSeat });

let seatTimer = null;
let seatSeq = 0;

// ---------------------------------------------------------------------------
// Routing: #/ (events) and #/events/<id> (seat map)
// ---------------------------------------------------------------------------

function eventHash(id) {
  return `#/events/${enc(id)}`;
}

function route() {
  const m = location.hash.match(/^#\/events\/([^/]+)$/);
  const wanted = m ? decodeURIComponent(m[1]) : null;
  if (hasLiveCheckout() && state.checkout.event_id && wanted !== state.checkout.event_id) {
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

function openEvent(id) {
  showView('map');
  if (state.eventId !== id) {
    state.eventId = id;
    state.event = null;
    state.seats = new Map();
    state.layoutKey = '';
    state.tiers = [];
    state.selected.clear();
    map.clear();
    map.fitted = true;
    el.seatsLoading.hidden = false;
    el.seatsLoading.textContent = 'Loading seats…';
    el.eventTitle.textContent = 'Loading event…';
    el.eventMeta.textContent = '';
    el.legendTiers.replaceChildren();
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
    setCurrency(ev && ev.currency);
    el.eventTitle.textContent = ev.name || 'Event';
    document.title = `Boxoffice: ${ev.name || 'seats'}`;
    renderEventMeta();
    renderBestForm();
    if (state.seats.size) applySeats([...state.seats.values()]);
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

  // The venue is drawn once both the seats and the event (its layout, its sections' order) are here.
  if (state.event) {
    const key =
      JSON.stringify(state.event.layout || null) +
      [...seats.values()].map((s) => `${s.seat_id}|${s.section}|${s.row}|${s.number}|${s.price_cents}`).join(',');
    if (key !== state.layoutKey) {
      state.layoutKey = key;
      state.tiers = priceTiers(seats.values());
      map.build(state.event, [...seats.values()], state.tiers);
    }
    el.seatsLoading.hidden = seats.size > 0;
    if (!seats.size) el.seatsLoading.textContent = 'This event has no seats.';
  }

  // Seats chosen here but taken meanwhile leave the selection, and the fan is told.
  const lost = [];
  for (const id of [...state.selected]) {
    const s = seats.get(id);
    if (!s || s.status !== 'available') {
      state.selected.delete(id);
      lost.push(s ? seatName(s) : id);
    }
  }
  if (lost.length) {
    say(`Sorry, ${lost.length === 1 ? 'this seat was' : 'these seats were'} just taken: ${lost.join('; ')}.`, 'error');
  }
  updateSeats();
  renderSelection();
  renderEventMeta();
  renderLegend();
}

function displayStatus(seat, mine, booked) {
  if (mine.has(seat.seat_id) && seat.status !== 'available') return 'mine';
  if (booked.has(seat.seat_id) && seat.status === 'booked') return 'yours';
  if (seat.status === 'available') return state.selected.has(seat.seat_id) ? 'selected' : 'available';
  if (seat.status === 'booked') return 'booked';
  return 'held'; // held, or anything unknown: not choosable
}

function updateSeats() {
  const mine = checkoutSeatIds();
  const booked = state.eventId ? bookedSeatIds(state.eventId) : new Set();
  const locked = hasLiveCheckout() || state.holding;
  for (const [id, b] of map.buttons) {
    const seat = state.seats.get(id);
    if (!seat) continue;
    const ds = displayStatus(seat, mine, booked);
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

function renderLegend() {
  const left = new Map();
  for (const s of state.seats.values()) {
    if (s.status === 'available') left.set(Number(s.price_cents), (left.get(Number(s.price_cents)) || 0) + 1);
  }
  el.legendTiers.replaceChildren(
    ...state.tiers.map((t) => {
      const li = document.createElement('li');
      li.className = 'tier';
      li.dataset.price = String(t.price);
      const sw = document.createElement('span');
      sw.className = 'seat-swatch';
      sw.dataset.legend = 'tier';
      sw.style.setProperty('--tier', t.colour);
      sw.setAttribute('aria-hidden', 'true');
      const price = document.createElement('strong');
      price.className = 'tier-price';
      price.textContent = money(t.price);
      const n = left.get(t.price) || 0;
      const count = document.createElement('span');
      count.className = 'tier-left muted';
      count.textContent = n ? `${n} left` : 'sold out';
      li.append(sw, price, count);
      return li;
    }),
  );
}

function toggleSeat(id) {
  const seat = state.seats.get(id);
  if (!seat || seat.status !== 'available' || hasLiveCheckout() || state.holding) return;
  if (state.selected.has(id)) state.selected.delete(id);
  else state.selected.add(id);
  updateSeats();
  renderSelection();
}

function selectedSeats() {
  return map.order.filter((id) => state.selected.has(id)).map((id) => state.seats.get(id));
}

function renderSelection() {
  const seats = selectedSeats();
  const live = hasLiveCheckout();
  el.selectionEmpty.hidden = seats.length > 0 || live;
  fillSeatLines(el.selectionList, seats);
  el.selectionTotalLine.hidden = seats.length === 0;
  el.selectionTotal.textContent = money(seats.reduce((sum, s) => sum + Number(s.price_cents || 0), 0));
  el.selectionBlocked.hidden = !live;
  el.bestForm.hidden = live;
  el.bestButton.disabled = state.finding || state.holding;
  el.clearButton.hidden = seats.length === 0;
  el.holdButton.disabled = seats.length === 0 || live || state.holding;
  el.holdButton.textContent = state.holding
    ? 'Holding…'
    : seats.length > 1
      ? `Hold ${seats.length} seats · ${el.selectionTotal.textContent}`
      : seats.length === 1
        ? `Hold 1 seat · ${el.selectionTotal.textContent}`
        : 'Hold seats';
}

// ---------------------------------------------------------------------------
// Best available: suggested by the API, selected here, held only when the fan says so
// ---------------------------------------------------------------------------

function renderBestForm() {
  const ev = state.event;
  const sections = ((ev && ev.sections) || []).map((s) => s.section);
  const prices = [
    ...new Set(
      ((ev && ev.sections) || []).flatMap((s) => s.rows.flatMap((r) => r.seats.map((x) => Number(x.price_cents)))),
    ),
  ].sort((a, b) => a - b);
  const options = [['', 'anywhere']];
  for (const name of sections) options.push([`section:${name}`, `in ${name}`]);
  for (const p of prices) options.push([`price:${p}`, `at ${money(p)} or less`]);
  el.bestWhere.replaceChildren(
    ...options.map(([value, text]) => {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = text;
      return o;
    }),
  );
}

async function findBest(e) {
  e.preventDefault();
  if (state.finding || hasLiveCheckout()) return;
  const count = Number(el.bestCount.value);
  const where = el.bestWhere.value;
  const body = { count };
  if (where.startsWith('section:')) body.section = where.slice('section:'.length);
  if (where.startsWith('price:')) body.max_price_cents = Number(where.slice('price:'.length));
  state.finding = true;
  renderSelection();
  say(`Looking for ${count} seats together…`);
  try {
    const found = await api(`/events/${enc(state.eventId)}/best-available`, { method: 'POST', body });
    state.selected = new Set(found.seat_ids.map(String));
    updateSeats();
    renderSelection();
    map.reveal([...state.selected]);
    const seats = selectedSeats();
    say(
      `Found ${seatsName(seats.length ? seats : [{ section: found.section, row: found.row, number: '' }])}, ${money(found.total_cents)} in all. They are not held yet: press “Hold” to keep them.`,
      'success',
    );
  } catch (err) {
    say(err.message, 'error');
  } finally {
    state.finding = false;
    renderSelection();
  }
}

function backToMap() {
  showPanel('selection');
  clearStatus();
  renderSelection();
  updateSeats();
  if (state.view === 'map') refreshSeats();
  const first = [...map.buttons.values()].find((b) => !b.disabled);
  (first || el.panelTitle).focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------

Object.assign(hooks, { refreshSeats, updateSeats, renderSelection, openEvent });

el.holdButton.addEventListener('click', () => holdSeats(selectedSeats().map((s) => s.seat_id)));
el.clearButton.addEventListener('click', () => {
  state.selected.clear();
  updateSeats();
  renderSelection();
});
el.bestForm.addEventListener('submit', findBest);
el.payButton.addEventListener('click', pay);
el.cancelButton.addEventListener('click', cancelCheckout);
el.backToMap.addEventListener('click', backToMap);
el.zoomIn.addEventListener('click', () => map.zoomBy(1.3));
el.zoomOut.addEventListener('click', () => map.zoomBy(1 / 1.3));
el.zoomFit.addEventListener('click', () => map.fit());
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

/** `?checkout=<id>&payment=success|cancelled`: where the payment page sends the fan back. */
function paymentReturn() {
  const params = new URLSearchParams(location.search);
  const checkoutId = params.get('checkout');
  const payment = params.get('payment');
  if (!checkoutId) return null;
  params.delete('checkout');
  params.delete('payment');
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  return { checkoutId, payment };
}

function init() {
  el.panelTitle.setAttribute('tabindex', '-1');
  showPanel('selection');
  const back = paymentReturn();
  const saved = loadSession();
  if (back && (!saved || saved.checkout_id !== back.checkoutId)) {
    say('That checkout belongs to another browser tab or has ended; open it in the tab you paid from.', 'error');
  }
  if (saved) {
    // Resume this tab's checkout after a reload or a visit to the payment page.
    const payment = back && back.checkoutId === saved.checkout_id ? back.payment : null;
    if (saved.event_id) {
      history.replaceState(null, '', `${location.pathname}${location.search}${eventHash(saved.event_id)}`);
    }
    const resumed = resumeCheckout(saved, payment);
    if (saved.event_id) openEvent(String(saved.event_id));
    resumed.then(() => {
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
