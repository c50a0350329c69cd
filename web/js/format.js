// Formatting: money, times, durations and the names of seats (as the API's messages say them).

let currency = 'USD';

export function setCurrency(code) {
  if (typeof code === 'string' && /^[A-Z]{3}$/i.test(code)) currency = code.toUpperCase();
}

export function money(cents) {
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

export function formatDate(value) {
  const ms = parseTime(value);
  if (Number.isNaN(ms)) return value ? String(value) : '';
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' }).format(new Date(ms));
}

export function mmss(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function spokenDuration(totalSeconds) {
  const s = Math.max(0, Math.round(totalSeconds));
  const m = Math.floor(s / 60);
  const r = s % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (r || !m) parts.push(`${r} second${r === 1 ? '' : 's'}`);
  return parts.join(' ');
}

export function etaText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s < 0) return 'Estimated wait: unknown';
  if (s < 5) return 'Estimated wait: a few seconds';
  if (s < 60) return `Estimated wait: about ${Math.round(s / 5) * 5} seconds`;
  const m = Math.round(s / 60);
  return `Estimated wait: about ${m} minute${m === 1 ? '' : 's'}`;
}

export const naturalCompare = (a, b) =>
  String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });

/** "Floor, row D, seat 1": how the page and the API's messages name a seat. */
export function seatName(seat) {
  return `${seat.section}, row ${seat.row}, seat ${seat.number}`;
}

/** "Floor, row D, seats 3–6" for seats of one row, else their names joined. */
export function seatsName(seats) {
  if (!seats.length) return '';
  const [first] = seats;
  const oneRow = seats.every((s) => s.section === first.section && s.row === first.row);
  if (!oneRow || seats.length === 1) return seats.map(seatName).join('; ');
  const numbers = seats.map((s) => Number(s.number)).sort((a, b) => a - b);
  return `${first.section}, row ${first.row}, seats ${numbers[0]}–${numbers[numbers.length - 1]}`;
}
