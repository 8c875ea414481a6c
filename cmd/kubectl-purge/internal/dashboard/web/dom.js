// Small DOM helpers: h() builds elements, formatters print numbers and times.

// h(tag, attrs, ...children) creates an element. attrs: properties (className,
// value, checked...), "on*" listeners, "aria-*"/"data-*"/other attributes
// (false leaves one out); null and false children are skipped, strings
// become text.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && !k.includes('-')) el[k] = v;
    else if (v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace swaps an element's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n === undefined || n === null ? '–' : nf.format(n));

// age prints how long ago t was, as kubectl does (5s, 3m, 2h, 4d).
export function age(t, now = Date.now()) {
  if (!t) return '–';
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// duration prints the time between two timestamps (1.2s, 3m04s).
export function duration(from, to) {
  if (!from || !to) return '–';
  const ms = new Date(to) - new Date(from);
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)}s`;
  const m = Math.floor(ms / 60000);
  return `${m}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;
}

export const time = (t) => (t ? new Date(t).toLocaleString() : '–');

// phaseBadge shows a phase word (status.phase) with its colour.
export function phaseBadge(phase) {
  return h('span', { className: `badge phase-${(phase || 'none').toLowerCase()}` }, phase || 'Not started');
}

let ids = 0;
// uid makes an id for label and description links.
export const uid = (p) => `${p}-${++ids}`;
