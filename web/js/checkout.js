// The checkout: hold the chosen seats, wait in line, pay (hosted page or test provider),
// come back from the payment page, cancel; and what the fan is told at each step.

import { API_BASE, ApiError, api, enc, nowMs } from './api.js';
import { el, fillSeatLines, focusIfLost, say } from './dom.js';
import { etaText, mmss, money, parseTime, seatName, spokenDuration } from './format.js';
import { clearSession, hasLiveCheckout, hooks, rememberBooking, saveSession, state } from './state.js';

const QUEUE_POLL_MS = 1500; // checkout poll while waiting in line
const ADMITTED_POLL_MS = 5000; // checkout poll while paying (catches server-side changes)
const CONFIRM_POLL_MS = 1000; // back from the payment page: until the payment is settled
const RETRY_POLL_MS = 3000; // after a failed poll
const PAY_LABEL = 'Pay now';

let checkoutTimer = null;
let countdownTimer = null;
let pollFailures = 0;
let confirming = false; // back from a payment page that said "paid": waiting for the webhook
let confirmUntil = 0; // until when a checkout read as expired may still turn out paid
let returnNote = ''; // what to say when the checkout is shown again after the payment page
const LATE_PAYMENT_WAIT_MS = 120000;

export function showPanel(name) {
  state.panel = name;
  el.selectionPanel.hidden = name !== 'selection';
  el.queuePanel.hidden = name !== 'queue';
  el.checkoutPanel.hidden = name !== 'checkout';
  el.confirmation.hidden = name !== 'confirmation';
  el.expiredPanel.hidden = name !== 'expired';
  el.cancelButton.hidden = !(name === 'queue' || name === 'checkout');
  el.cancelButton.textContent = name === 'queue' ? 'Leave the line and release seats' : 'Cancel';
  el.backToMap.hidden = !(name === 'confirmation' || name === 'expired');
  el.panel.dataset.panel = name;
  el.panelTitle.textContent =
    { queue: 'Waiting room', checkout: 'Checkout', confirmation: 'Your booking' }[name] || 'Your seats';
}

export function checkoutSeatIds() {
  if (!hasLiveCheckout() || state.checkout.event_id !== state.eventId) return new Set();
  const ids = state.checkout.seat_ids || (state.checkout.seats || []).map((s) => s.seat_id);
  return new Set((ids || []).map(String));
}

function checkoutSeats(c) {
  if (Array.isArray(c.seats) && c.seats.length) return c.seats;
  return (c.seat_ids || []).map((id) => state.seats.get(String(id)) || { seat_id: id });
}

function checkoutTotal(c) {
  if (c.total_cents !== undefined && c.total_cents !== null) return money(c.total_cents);
  return money(checkoutSeats(c).reduce((sum, s) => sum + Number(s.price_cents || 0), 0));
}

function nameForId(id) {
  const seat = state.seats.get(id);
  return seat ? seatName(seat) : String(id);
}

function redraw() {
  hooks.updateSeats();
  hooks.renderSelection();
}

export async function holdSeats(ids) {
  if (state.holding || hasLiveCheckout() || !ids.length) return;
  const eventId = state.eventId;
  state.holding = true;
  redraw();
  say(`Holding ${ids.length === 1 ? 'your seat' : `your ${ids.length} seats`}…`);
  try {
    const data = await api(`/events/${enc(eventId)}/checkouts`, { method: 'POST', body: { seat_ids: ids } });
    state.holding = false;
    if (!data || !data.checkout_id || !data.token) {
      throw new ApiError(500, 'bad_response', 'The box office gave an unexpected answer. Please try again.');
    }
    state.selected.clear();
    beginCheckout({ ...data, event_id: data.event_id || eventId });
    hooks.refreshSeats();
  } catch (e) {
    state.holding = false;
    if (e.code === 'seats_unavailable') {
      const taken = Array.isArray(e.data && e.data.seat_ids) ? e.data.seat_ids.map(String) : [];
      for (const id of taken) state.selected.delete(id);
      if (taken.length) {
        say(`Sorry, these seats were just taken: ${taken.map(nameForId).join('; ')}. Please choose other seats.`, 'error');
      } else {
        say(`Sorry, some of those seats were just taken. ${e.message}`, 'error');
      }
      hooks.refreshSeats();
    } else {
      say(e.message, 'error');
      if (e.status === 404) hooks.refreshSeats();
    }
    redraw();
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

/** Resumes this tab's checkout (after a reload, or back from the payment page). */
export function resumeCheckout(saved, payment) {
  state.checkoutGen++;
  state.checkout = {
    checkout_id: saved.checkout_id,
    token: saved.token,
    event_id: saved.event_id ? String(saved.event_id) : null,
    status: 'resuming',
  };
  confirming = payment === 'success';
  confirmUntil = confirming ? Date.now() + LATE_PAYMENT_WAIT_MS : 0;
  returnNote = payment === 'cancelled' ? 'Payment cancelled: nothing was charged. You can pay again before the timer runs out.' : '';
  if (payment === 'success') {
    showPanel('checkout');
    el.payButton.disabled = true;
    el.payButton.textContent = 'Confirming payment…';
    say('Thank you. Confirming your payment with the box office…');
  } else if (payment === 'cancelled') {
    say(returnNote);
  } else {
    say('Resuming your checkout…');
  }
  return pollCheckout();
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
      scheduleCheckoutPoll(confirming ? CONFIRM_POLL_MS : ADMITTED_POLL_MS);
      startCountdown();
      break;
    case 'completed':
      finishCompleted(c);
      break;
    case 'expired':
      if (confirming && Date.now() < confirmUntil) {
        // The hold ended while the payment was on its way: it books the seats if they are
        // still free, or is refunded. Wait for that verdict rather than say "expired".
        say('Your hold ended while your payment was being confirmed. Waiting for the final answer…');
        scheduleCheckoutPoll(2000);
        break;
      }
      finishExpired();
      break;
    case 'cancelled':
      finishEnded('Checkout ended', 'This checkout was cancelled and its seats have been released.');
      break;
    case 'refunded':
      finishEnded(
        'Payment refunded',
        'Your payment arrived after your hold had ended and the seats were gone, so it has been refunded in full. Nothing was booked.',
      );
      break;
    default:
      // Unknown status: keep asking.
      scheduleCheckoutPoll(QUEUE_POLL_MS);
  }
  redraw();
}

function renderQueue(c, changed) {
  if (changed) showPanel('queue');
  const ahead = Math.max(0, Number(c.position) || 0);
  el.queuePosition.dataset.position = String(ahead);
  el.queuePosition.textContent =
    ahead === 0 ? "You are in line: you're next" : `You are in line: ${ahead} ${ahead === 1 ? 'person' : 'people'} ahead`;
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
  el.payButton.disabled = state.paying || confirming;
  el.cancelButton.disabled = state.paying || state.cancelling || confirming;
  if (changed && returnNote) {
    say(returnNote);
    returnNote = '';
    focusIfLost(el.payButton);
  } else if (changed && !confirming) {
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

export function tickCountdown() {
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
    if (shown <= 60 && shown > 0 && !state.warnedMinute && !confirming) {
      state.warnedMinute = true;
      say(`Less than a minute left to pay.`);
    }
  } else {
    el.queueHold.textContent = `Your seats are held for up to ${mmss(shown)} while you wait.`;
  }
  // Past expires_at the server releases the seats; don't wait for a poll to say so (unless
  // a payment is being confirmed: a late payment still books the seats if they are free).
  if (left <= 0 && !state.paying && !confirming) finishExpired();
}

function scheduleCheckoutPoll(delay) {
  clearTimeout(checkoutTimer);
  checkoutTimer = setTimeout(pollCheckout, delay);
}

export async function pollCheckout() {
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
      finishEnded(
        'Checkout ended',
        'Your checkout could not be found any more. If you had seats on hold, they have been released.',
      );
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
  confirming = false;
  returnNote = '';
  el.payButton.disabled = false;
  el.cancelButton.disabled = false;
  el.payButton.textContent = PAY_LABEL;
  return c;
}

function finishCompleted(c) {
  endCheckout();
  const seats = checkoutSeats(c);
  rememberBooking(c.event_id, seats.map((s) => s.seat_id), c.reference);
  showPanel('confirmation');
  el.confirmationRef.textContent = c.reference || c.checkout_id;
  el.confirmationRef.dataset.kind = c.reference ? 'reference' : 'checkout-id';
  fillSeatLines(el.confirmationSeats, seats);
  el.confirmationTotal.textContent = checkoutTotal(c);
  const n = seats.length;
  const ref = c.reference ? ` Your booking reference is ${c.reference}.` : '';
  say(`Booking confirmed. ${n === 1 ? 'Your seat is' : `Your ${n} seats are`} booked.${ref}`, 'success');
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

function finishEnded(title, message) {
  endCheckout();
  showPanel('expired');
  el.expiredTitle.textContent = title;
  el.expiredMessage.textContent = message;
  say(message, 'error');
  focusIfLost(el.backToMap);
  refreshAfterEnd();
}

function refreshAfterEnd() {
  redraw();
  if (state.view === 'map') hooks.refreshSeats();
}

function paymentFailed(e) {
  state.paying = false;
  el.payButton.textContent = PAY_LABEL;
  el.payButton.disabled = false;
  el.cancelButton.disabled = false;
  if (e.code === 'checkout_expired') {
    finishExpired();
  } else if (e.code === 'not_admitted') {
    say(`${e.message} Please wait for your turn.`, 'error');
    pollCheckout();
  } else if (e.code === 'checkout_completed') {
    pollCheckout();
  } else if (e.status === 401 || e.status === 403 || e.status === 404) {
    finishEnded('Checkout ended', e.message);
  } else {
    say(`${e.message} Your payment was not taken; you can try again.`, 'error');
    tickCountdown(); // the hold may have run out meanwhile
  }
}

/** The hosted payment page's address (http or https only), or null. */
function paymentPage(url) {
  if (typeof url !== 'string' || !url) return null;
  try {
    const page = new URL(url, API_BASE ? `${API_BASE}/` : location.href);
    return page.protocol === 'https:' || page.protocol === 'http:' ? page.href : null;
  } catch {
    return null;
  }
}

/** Pay: ask where to pay; a hosted page (Stripe) is visited, the test provider is confirmed here. */
export async function pay() {
  const c = state.checkout;
  if (!c || c.status !== 'admitted' || state.paying) return;
  const gen = state.checkoutGen;
  state.paying = true;
  el.payButton.disabled = true;
  el.cancelButton.disabled = true;
  el.payButton.textContent = 'Starting payment…';
  say('Starting your payment…');
  try {
    const where = await api(`/checkouts/${enc(c.checkout_id)}/payment`, { method: 'POST', token: c.token });
    if (gen !== state.checkoutGen) return;
    const hosted = where && where.provider !== 'test' ? paymentPage(where.payment_url) : null;
    if (hosted) {
      el.payButton.textContent = 'Opening the payment page…';
      say('Opening the secure payment page…');
      location.assign(hosted); // the page comes back to ?checkout=<id>&payment=...
      return;
    }
    el.payButton.textContent = 'Paying…';
    const data = await api(`/checkouts/${enc(c.checkout_id)}/complete`, { method: 'POST', token: c.token });
    if (gen !== state.checkoutGen) return;
    state.paying = false;
    applyCheckout({ ...(data || {}), status: (data && data.status) || 'completed' });
    if (state.checkout) pollCheckout();
  } catch (e) {
    if (gen !== state.checkoutGen) return;
    paymentFailed(e);
  }
}

export async function cancelCheckout() {
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
