// The seat map: the venue drawn from the event's layout (or a default one), seats coloured
// by price tier, zoom (fit, +/-, ctrl+wheel) and panning, and keyboard movement.
//
// Geometry is in seat pitches (one unit = the spacing of two seats in a row), the units of
// the API's `layout`. Everything is placed with calc(var(--pitch) * n), so zooming is one
// CSS variable and the scroll area follows.

import { naturalCompare } from './format.js';

const LABEL = 0.8; // width of a row label, each side of a row
const TITLE = 1.3; // depth of a section's title above its first row
const GAP = 1.2; // between stacked sections in the default layout
const MIN_TOUCH_PX = 24; // a seat smaller than this is zoomed into on a tap, not chosen
const MIN_PITCH = 6;
const MAX_PITCH = 56;
const FIT_MAX_PITCH = 28; // fitting a small venue to a wide screen stops at comfortable seats

// Price tiers, most expensive first. Dark enough for white text (WCAG AA on 12px bold).
export const TIER_COLOURS = ['#7e22ce', '#be185d', '#c2410c', '#0f766e', '#1d4ed8', '#4d7c0f', '#a16207', '#475569'];

const css = (units) => `calc(var(--pitch) * ${Number(units.toFixed(3))})`;

/** Distinct prices, most expensive first, with their colour. */
export function priceTiers(seats) {
  const prices = [...new Set([...seats].map((s) => Number(s.price_cents)))].sort((a, b) => b - a);
  return prices.map((price, i) => ({ price, colour: TIER_COLOURS[i % TIER_COLOURS.length] }));
}

/** Sections (in the event's order), their rows and seats, and where each goes. */
export function venueGeometry(event, seats) {
  const bySection = new Map();
  for (const name of (event && Array.isArray(event.sections) ? event.sections : []).map((s) => String(s.section))) {
    bySection.set(name, new Map());
  }
  for (const s of seats) {
    const name = String(s.section);
    if (!bySection.has(name)) bySection.set(name, new Map());
    const rows = bySection.get(name);
    if (!rows.has(String(s.row))) rows.set(String(s.row), []);
    rows.get(String(s.row)).push(s);
  }
  const rowOrder = new Map();
  for (const sec of (event && event.sections) || []) {
    (sec.rows || []).forEach((r, i) => rowOrder.set(`${sec.section}\u0000${r.row}`, i));
  }

  const sections = [];
  for (const [name, rows] of bySection) {
    if (!rows.size) continue;
    const rowNames = [...rows.keys()].sort((a, b) => {
      const ia = rowOrder.get(`${name}\u0000${a}`);
      const ib = rowOrder.get(`${name}\u0000${b}`);
      return ia !== undefined && ib !== undefined ? ia - ib : naturalCompare(a, b);
    });
    const spans = rowNames.map((r) => {
      const numbers = rows.get(r).map((s) => Number(s.number));
      return { min: Math.min(...numbers), max: Math.max(...numbers) };
    });
    const cols = Math.max(...spans.map((sp) => sp.max - sp.min + 1));
    const width = cols + 2 * LABEL;
    const height = TITLE + rowNames.length;
    sections.push({
      name,
      width,
      height,
      rows: rowNames.map((row, i) => {
        const { min, max } = spans[i];
        const offset = LABEL + (cols - (max - min + 1)) / 2;
        const rowSeats = rows.get(row).sort((a, b) => Number(a.number) - Number(b.number) || naturalCompare(a.seat_id, b.seat_id));
        return { row, y: TITLE + i, seats: rowSeats.map((s) => ({ seat: s, x: offset + Number(s.number) - min })) };
      }),
    });
  }

  const layout = event && event.layout;
  const placed = new Map(((layout && layout.sections) || []).map((p) => [String(p.section), p]));
  let stage = layout && layout.stage ? { ...layout.stage } : null;
  if (!layout) {
    // The default venue: the stage first, then the sections in the order given, stacked.
    const wide = Math.max(12, ...sections.map((s) => s.width));
    stage = { x: 0, y: 0, width: Math.min(wide, 24), height: 2.4, label: 'Stage' };
    let top = stage.height / 2 + GAP + 0.4;
    for (const sec of sections) {
      placed.set(sec.name, { x: 0, y: top + sec.height / 2, rotation: 0 });
      top += sec.height + GAP;
    }
  }
  // Sections a layout forgot (the API refuses that, but be safe) go below the rest.
  let bottom = -Infinity;
  const extent = (x, y, w, h, deg) => {
    const r = ((deg || 0) * Math.PI) / 180;
    const hw = (Math.abs(w * Math.cos(r)) + Math.abs(h * Math.sin(r))) / 2;
    const hh = (Math.abs(w * Math.sin(r)) + Math.abs(h * Math.cos(r))) / 2;
    return { left: x - hw, right: x + hw, top: y - hh, bottom: y + hh };
  };
  for (const sec of sections) {
    const p = placed.get(sec.name);
    if (p) bottom = Math.max(bottom, extent(p.x, p.y, sec.width, sec.height, p.rotation).bottom);
  }
  for (const sec of sections) {
    let p = placed.get(sec.name);
    if (!p) {
      p = { x: 0, y: (Number.isFinite(bottom) ? bottom : 0) + GAP + sec.height / 2, rotation: 0 };
      bottom = p.y + sec.height / 2;
    }
    sec.x = Number(p.x);
    sec.y = Number(p.y);
    sec.rotation = Number(p.rotation || 0);
    sec.box = extent(sec.x, sec.y, sec.width, sec.height, sec.rotation);
  }
  const boxes = sections.map((s) => s.box);
  if (stage) boxes.push(extent(stage.x, stage.y, stage.width, stage.height, 0));
  const margin = 0.25;
  const bounds = {
    left: Math.min(...boxes.map((b) => b.left)) - margin,
    top: Math.min(...boxes.map((b) => b.top)) - margin,
    right: Math.max(...boxes.map((b) => b.right)) + margin,
    bottom: Math.max(...boxes.map((b) => b.bottom)) + margin,
  };
  bounds.width = bounds.right - bounds.left;
  bounds.height = bounds.bottom - bounds.top;
  return { sections, stage, bounds };
}

export class SeatMap {
  /**
   * root: the element the venue goes in; viewport: the element that scrolls (pans) it.
   * onToggle(seatId) is called when a seat is chosen (click, tap, Enter or Space).
   */
  constructor(root, viewport, { onToggle }) {
    this.root = root;
    this.viewport = viewport;
    this.onToggle = onToggle;
    this.buttons = new Map();
    this.order = [];
    this.venue = null;
    this.geometry = null;
    this.pitch = 28;
    this.fitted = true;
    root.addEventListener('click', (e) => this.onClick(e));
    root.addEventListener('keydown', (e) => this.onKeydown(e));
    viewport.addEventListener(
      'wheel',
      (e) => {
        if (!e.ctrlKey || !this.venue) return; // plain wheel scrolls; ctrl+wheel (and pinch on a trackpad) zooms
        e.preventDefault();
        this.zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
      },
      { passive: false },
    );
    let lastWidth = viewport.clientWidth;
    new ResizeObserver(() => {
      if (viewport.clientWidth !== lastWidth) {
        lastWidth = viewport.clientWidth;
        if (this.fitted) this.fit();
      }
    }).observe(viewport);
  }

  build(event, seats, tiers) {
    const focusedId = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.seatId;
    const colour = new Map(tiers.map((t) => [t.price, t.colour]));
    const geometry = venueGeometry(event, seats);
    this.geometry = geometry;
    this.buttons = new Map();
    this.order = [];
    const { bounds } = geometry;
    const venue = document.createElement('div');
    venue.className = 'venue';
    venue.style.width = css(bounds.width);
    venue.style.height = css(bounds.height);

    if (geometry.stage) {
      const st = geometry.stage;
      const stage = document.createElement('div');
      stage.className = 'stage';
      stage.setAttribute('aria-hidden', 'true');
      stage.textContent = st.label || 'Stage';
      stage.style.left = css(st.x - st.width / 2 - bounds.left);
      stage.style.top = css(st.y - st.height / 2 - bounds.top);
      stage.style.width = css(st.width);
      stage.style.height = css(st.height);
      venue.append(stage);
    }

    geometry.sections.forEach((sec, si) => {
      const el = document.createElement('section');
      el.className = 'seat-section';
      el.dataset.section = sec.name;
      el.style.left = css(sec.x - sec.width / 2 - bounds.left);
      el.style.top = css(sec.y - sec.height / 2 - bounds.top);
      el.style.width = css(sec.width);
      el.style.height = css(sec.height);
      if (sec.rotation) {
        el.style.transform = `rotate(${sec.rotation}deg)`;
        el.style.setProperty('--turn', `${-sec.rotation}deg`); // numbers and labels stay upright
      }
      const h = document.createElement('h3');
      h.id = `section-${si}`;
      h.textContent = sec.name;
      el.setAttribute('aria-labelledby', h.id);
      el.append(h);
      for (const row of sec.rows) {
        const rowEl = document.createElement('div');
        rowEl.className = 'seat-row';
        rowEl.setAttribute('role', 'group');
        rowEl.setAttribute('aria-label', `${sec.name}, row ${row.row}`);
        rowEl.dataset.row = row.row;
        rowEl.style.top = css(row.y);
        const label = document.createElement('span');
        label.className = 'row-label';
        label.setAttribute('aria-hidden', 'true');
        label.textContent = row.row;
        const labelEnd = label.cloneNode(true);
        labelEnd.classList.add('row-label-end');
        rowEl.append(label);
        for (const { seat, x } of row.seats) {
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'seat';
          b.dataset.seatId = seat.seat_id;
          b.dataset.price = String(seat.price_cents);
          b.style.left = css(x);
          b.style.setProperty('--tier', colour.get(Number(seat.price_cents)) || TIER_COLOURS[0]);
          const num = document.createElement('span');
          num.className = 'seat-num';
          num.textContent = seat.number;
          b.append(num);
          rowEl.append(b);
          this.buttons.set(seat.seat_id, b);
          this.order.push(seat.seat_id);
        }
        rowEl.append(labelEnd);
        el.append(rowEl);
      }
      venue.append(el);
    });
    this.venue = venue;
    this.root.replaceChildren(venue);
    if (this.fitted) this.fit();
    else this.setPitch(this.pitch);
    if (focusedId && this.buttons.has(focusedId)) this.buttons.get(focusedId).focus();
  }

  clear() {
    this.venue = null;
    this.buttons = new Map();
    this.order = [];
    this.root.replaceChildren();
  }

  fitPitch() {
    if (!this.geometry) return this.pitch;
    const width = this.viewport.clientWidth - 2;
    return Math.max(MIN_PITCH, Math.min(FIT_MAX_PITCH, width / this.geometry.bounds.width));
  }

  setPitch(pitch, anchorX, anchorY) {
    if (!this.venue) return;
    const vp = this.viewport;
    const rect = vp.getBoundingClientRect();
    const ax = anchorX === undefined ? rect.width / 2 : anchorX - rect.left;
    const ay = anchorY === undefined ? rect.height / 2 : anchorY - rect.top;
    const old = this.pitch;
    const fx = (vp.scrollLeft + ax) / old;
    const fy = (vp.scrollTop + ay) / old;
    this.pitch = Math.max(MIN_PITCH, Math.min(MAX_PITCH, pitch));
    this.venue.style.setProperty('--pitch', `${this.pitch}px`);
    this.venue.dataset.small = this.pitch < 18 ? 'true' : 'false';
    vp.scrollLeft = fx * this.pitch - ax;
    vp.scrollTop = fy * this.pitch - ay;
  }

  fit() {
    this.fitted = true;
    this.setPitch(this.fitPitch());
    this.viewport.scrollLeft = 0;
    this.viewport.scrollTop = 0;
  }

  zoomBy(factor, x, y) {
    this.fitted = false;
    this.setPitch(this.pitch * factor, x, y);
    if (Math.abs(this.pitch - this.fitPitch()) < 0.5) this.fit();
  }

  onClick(e) {
    const b = e.target.closest('button.seat');
    if (!b || b.disabled) return;
    // A tap on a seat too small to aim at zooms in there instead of choosing it.
    if (e.detail > 0 && b.getBoundingClientRect().width < MIN_TOUCH_PX) {
      this.fitted = false;
      this.setPitch(MIN_TOUCH_PX + 8, e.clientX, e.clientY);
      return;
    }
    this.onToggle(b.dataset.seatId);
  }

  /** Scrolls the map so that these seats are in view. */
  reveal(ids) {
    const rects = ids.map((id) => this.buttons.get(id)).filter(Boolean).map((b) => b.getBoundingClientRect());
    if (!rects.length) return;
    const vp = this.viewport.getBoundingClientRect();
    const cx = (Math.min(...rects.map((r) => r.left)) + Math.max(...rects.map((r) => r.right))) / 2;
    const cy = (Math.min(...rects.map((r) => r.top)) + Math.max(...rects.map((r) => r.bottom))) / 2;
    this.viewport.scrollBy({ left: cx - (vp.left + vp.width / 2), top: cy - (vp.top + vp.height / 2) });
  }

  // Arrow keys move between seats: left/right along a row, up/down to the nearest seat in the next row.
  onKeydown(e) {
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
      const rows = [...this.root.querySelectorAll('.seat-row')];
      const step = e.key === 'ArrowDown' ? 1 : -1;
      const box = b.getBoundingClientRect();
      const center = box.left + box.width / 2;
      for (let r = rows.indexOf(row) + step; r >= 0 && r < rows.length; r += step) {
        const list = enabled(rowButtons(rows[r]));
        if (!list.length) continue;
        target = list.reduce((best, x) => {
          const xb = x.getBoundingClientRect();
          const d = Math.abs(xb.left + xb.width / 2 - center);
          return !best || d < best.d ? { x, d } : best;
        }, null).x;
        break;
      }
    } else {
      return;
    }
    e.preventDefault();
    if (target) {
      target.focus();
      target.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
  }
}
