// Building the page's elements. Every text from the log goes in through textContent or an attribute
// value, never as markup: a payload saying "<img onerror=…>" shows as those characters.

/**
 * An element: `h('td', { class: 'num', title: 't' }, 'text', child)`. Attributes starting with `on`
 * take a listener; `null`/`undefined`/`false` children and attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `el` holds with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 12,345 */
export function count(n) {
  return typeof n === 'number' ? integer.format(n) : '—';
}

/** 12.3/s */
export function rate(n) {
  return typeof n === 'number' ? `${decimal.format(n)}/s` : '—';
}

/** 350 ms, 4.2 s, 3 min, 2 h */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${decimal.format(ms / 1000)} s`;
  if (a < 3_600_000) return `${decimal.format(ms / 60_000)} min`;
  return `${decimal.format(ms / 3_600_000)} h`;
}

/** 14:03:07.125 (local time) */
export function clock(time) {
  if (typeof time !== 'number' || time <= 0) return '—';
  const d = new Date(time);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** 2026-01-31 14:03:07 (local time) */
export function dateTime(time) {
  if (typeof time !== 'number' || time <= 0) return '—';
  const d = new Date(time);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(time).slice(0, 8)}`;
}

/** JSON of a value, cut to `max` characters. */
export function preview(value, max = 80) {
  let text;
  try {
    text = JSON.stringify(value) ?? 'undefined';
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
