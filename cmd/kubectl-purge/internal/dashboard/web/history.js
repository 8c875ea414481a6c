// History: the Purges of the namespace (or all), newest first, updated
// live from the server's watch stream; filtered and paged.
import { stream } from './api.js';
import { h, replace, num, age, phaseBadge, uid } from './dom.js';
import { state } from './app.js';

const PAGE = 50;

// what summarises what a Purge purges: its first URLs or tags and a count.
export function what(s) {
  const parts = [];
  if (s.urlCount) parts.push(s.urls[0] + (s.urlCount > 1 ? ` (+${s.urlCount - 1} more)` : ''));
  if (s.tagCount) parts.push('tags ' + s.tags.join(', ') + (s.tagCount > s.tags.length ? ` (+${s.tagCount - s.tags.length} more)` : ''));
  return parts.join('; ');
}

function modeText(s) {
  return [s.mode, s.refetch && 'warm up', s.dryRun && 'dry run'].filter(Boolean).join(', ');
}

export function historyView(root) {
  let rows = new Map(); // namespace/name -> summary
  const key = (s) => `${s.namespace}/${s.name}`;
  let page = 0;
  // loaded: the first page of the list came; listed: all of it; remaining:
  // how many rows are still to come, when the server said.
  let loaded = false;
  let listed = false;
  let remaining = null;

  const ids = { cp: uid('f-cp'), st: uid('f-state'), q: uid('f-text'), dry: uid('f-dry') };
  const cpFilter = h('select', { id: ids.cp, onchange: () => { page = 0; render(); } }, h('option', { value: '' }, 'All'));
  const stateFilter = h('select', { id: ids.st, onchange: () => { page = 0; render(); } },
    ['', 'Pending', 'Running', 'Complete', 'Failed'].map((v) => h('option', { value: v }, v || 'All')));
  const text = h('input', { id: ids.q, type: 'search', placeholder: 'name, URL, tag, user', oninput: () => { page = 0; render(); } });
  const showDry = h('input', { id: ids.dry, type: 'checkbox', onchange: () => { page = 0; render(); } });
  const tbody = h('tbody');
  const count = h('p', { className: 'count', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', onclick: () => { page--; render(); } }, 'Newer');
  const next = h('button', { type: 'button', onclick: () => { page++; render(); } }, 'Older');
  const allNs = state.namespace === '';

  replace(root,
    h('h2', { id: 'history' }, 'History'),
    h('div', { className: 'filters', role: 'group', 'aria-label': 'Filters' },
      h('label', { for: ids.cp }, 'Filter by CacheProxy'), cpFilter,
      h('label', { for: ids.st }, 'Filter by state'), stateFilter,
      h('label', { for: ids.q }, 'Search'), text,
      h('span', { className: 'check' }, showDry, h('label', { for: ids.dry }, 'Show dry runs'))),
    h('div', { className: 'scroll' },
      h('table', { className: 'grid history-table' },
        h('caption', { className: 'visually-hidden' }, 'History'),
        h('thead', {}, h('tr', {},
          allNs && h('th', { scope: 'col' }, 'Namespace'),
          ['Name', 'CacheProxy', 'Mode', 'What', 'Created by', 'State', 'Progress', 'Invalidated', 'Age']
            .map((c) => h('th', { scope: 'col', className: `c-${c.toLowerCase().replace(' ', '-')}` }, c)))),
        tbody)),
    h('div', { className: 'pager' }, count, prev, next));

  function visible() {
    const cp = cpFilter.value, st = stateFilter.value, q = text.value.trim().toLowerCase(), dry = showDry.checked;
    const out = [];
    for (const s of rows.values()) {
      if (s.dryRun && !dry) continue;
      if (cp && s.cacheProxy !== cp) continue;
      if (st && (s.phase || 'Pending') !== st) continue;
      if (q && ![s.name, s.createdBy, s.cacheProxy, ...(s.urls || []), ...(s.tags || [])].some((v) => v && v.toLowerCase().includes(q))) continue;
      out.push(s);
    }
    out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.name.localeCompare(b.name)));
    return out;
  }

  function updateProxies() {
    const names = [...new Set([...rows.values()].map((s) => s.cacheProxy))].sort();
    const current = cpFilter.value;
    if (names.join() === [...cpFilter.options].slice(1).map((o) => o.value).join()) return;
    replace(cpFilter, h('option', { value: '' }, 'All'), names.map((n) => h('option', { value: n, selected: n === current }, n)));
  }

  let pending = false;
  function render() {
    pending = false;
    updateProxies();
    const list = visible();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const now = Date.now();
    const slice = list.slice(page * PAGE, page * PAGE + PAGE);
    replace(tbody, slice.length ? slice.map((s) => h('tr', {},
      allNs && h('td', {}, s.namespace),
      h('td', { className: 'name' }, h('a', { href: `/purges/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}` }, s.name)),
      h('td', {}, s.cacheProxy),
      h('td', {}, modeText(s)),
      h('td', { className: 'what', title: what(s) }, what(s)),
      h('td', {}, s.createdBy),
      h('td', {}, phaseBadge(s.phase)),
      h('td', { className: 'n' }, s.progress || '–'),
      h('td', { className: 'n' }, num(s.invalidated)),
      h('td', { className: 'n' }, h('time', { datetime: s.created }, age(s.created, now))))) :
      h('tr', {}, h('td', { colSpan: allNs ? 10 : 9, className: 'empty' }, loaded ? 'No Purges match.' : 'Loading…')));
    const more = listed ? '' : remaining ? ` so far, ${num(remaining)} more loading…` : ' so far, more loading…';
    count.textContent = list.length ? `${page * PAGE + 1}–${page * PAGE + slice.length} of ${num(list.length)}${more}` : '';
    root.querySelector('table').setAttribute('aria-busy', String(!listed));
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    if (loaded && !performance.getEntriesByName('history-first-page').length) performance.mark('history-first-page');
    if (listed && !performance.getEntriesByName('history-rendered').length) performance.mark('history-rendered');
  }
  // Many changes at once (a burst of Purges) render once a frame.
  const schedule = () => { if (!pending) { pending = true; requestAnimationFrame(render); } };

  render();
  if (!performance.getEntriesByName('history-requested').length) performance.mark('history-requested');
  const qs = new URLSearchParams({ namespace: state.namespace });
  // The list comes a page at a time (the first one small): the table
  // shows the newest of the rows so far at once, and settles as the rest
  // arrive. A list made again once the table was whole (the server lists
  // again when a watch ends) is swapped in when complete: the table does
  // not shrink meanwhile.
  let incoming = null;
  const add = (p) => {
    if (incoming) {
      for (const s of p.rows) incoming.set(key(s), s);
      if (p.listed) { rows = incoming; incoming = null; }
      return;
    }
    for (const s of p.rows) rows.set(key(s), s);
    listed = p.listed;
    remaining = p.remaining ?? null;
  };
  return stream(`/api/purges/watch?${qs}`, {
    reset(p) {
      if (listed) incoming = new Map();
      else rows.clear();
      add(p);
      loaded = true;
      render();
    },
    more(p) { add(p); schedule(); },
    upsert(s) { rows.set(key(s), s); schedule(); },
    delete(k) { rows.delete(key(k)); schedule(); },
  }, 'history');
}
