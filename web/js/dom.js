// The page's elements, the polite status line, and small rendering helpers.

import { money, seatName } from './format.js';

const $ = (id) => document.getElementById(id);

export const el = Object.fromEntries(
  [
    'status', 'events-view', 'events', 'events-loading', 'map-view', 'back-to-events', 'event-title', 'event-meta',
    'seat-map', 'map-viewport', 'seats-loading', 'map-updated', 'legend-tiers', 'zoom-in', 'zoom-out', 'zoom-fit',
    'panel', 'panel-title', 'selection-panel', 'selection-empty', 'selection-list', 'selection-total-line',
    'selection-total', 'selection-blocked', 'hold-button', 'clear-button', 'best-form', 'best-count', 'best-where',
    'best-button', 'queue-panel', 'queue-position', 'queue-eta', 'queue-hold', 'queue-seats', 'checkout-panel',
    'countdown', 'checkout-seats', 'checkout-total', 'pay-button', 'cancel-button', 'confirmation',
    'confirmation-ref', 'confirmation-seats', 'confirmation-total', 'expired-panel', 'expired-title',
    'expired-message', 'back-to-map',
  ].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]),
);

let statusSeq = 0;
/** Shows a message in the polite live region (#status). kind: info | error | success. */
export function say(message, kind = 'info') {
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

export function clearStatus() {
  statusSeq++;
  el.status.textContent = '';
  el.status.dataset.kind = '';
}

/** Moves focus to target only when focus was lost (on body or inside something now hidden). */
export function focusIfLost(target) {
  const active = document.activeElement;
  if (!active || active === document.body || !active.isConnected || active.closest('[hidden]') || active.disabled) {
    if (!target.hasAttribute('tabindex') && !/^(BUTTON|A|INPUT)$/.test(target.tagName)) {
      target.setAttribute('tabindex', '-1');
    }
    target.focus();
  }
}

export function fillSeatLines(list, seats) {
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
