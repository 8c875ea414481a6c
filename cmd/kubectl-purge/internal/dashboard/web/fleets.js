// Fleets: each CacheProxy with its pods and their cache statistics, read
// from each pod's metrics through the API server's pod proxy, live from
// the server's stream.
import { stream } from './api.js';
import { h, replace, num } from './dom.js';
import { state } from './app.js';

const pct = (r) => (r === undefined || r === null ? '–' : `${(r * 100).toFixed(1)}%`);
const bytes = (b) => (b === undefined || b === null ? '–' : b < 1 << 20 ? `${(b / 1024).toFixed(0)} KiB` : `${(b / (1 << 20)).toFixed(1)} MiB`);

export function fleetsView(root) {
  const list = h('div', { className: 'fleets' }, h('p', { className: 'empty' }, 'Loading…'));
  replace(root, h('div', { className: 'title' }, h('h1', {}, 'Fleets'),
    h('span', { className: 'help' }, 'Live: pods as they change, statistics every few seconds.')), list);

  function fleet(f) {
    const item = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    return h('section', { className: 'panel fleet', 'aria-label': `CacheProxy ${f.name}` },
      h('h2', {}, f.name, state.namespace === '' ? h('span', { className: 'muted' }, ` in ${f.namespace}`) : ''),
      h('dl', { className: 'spec' },
        item('Pods ready', `${f.readyReplicas} of ${f.replicas}`),
        item('Available', f.available),
        item('Hosts', f.hosts && f.hosts.length ? f.hosts.join(', ') : 'any'),
        item('Origin', f.origin),
        item('Cache size', f.cacheSize || 'default')),
      f.podsError && h('p', { className: 'note' }, `Pods unavailable: ${f.podsError}`),
      f.statsError && h('p', { className: 'note' }, `Cache statistics need permission to use pods/proxy; the API server said: ${f.statsError}`),
      h('table', { className: 'grid' }, h('caption', {}, `Pods of ${f.name}`),
        h('thead', {}, h('tr', {}, ['Pod', 'Ready', 'IP', 'Objects', 'Hit ratio', 'Memory', 'Note'].map((c, i) => h('th', { scope: 'col', className: i >= 3 && i <= 5 ? 'n' : '' }, c)))),
        h('tbody', {}, f.pods.length ? f.pods.map((p) => h('tr', {},
          h('td', { className: 'mono' }, p.name), h('td', {}, p.ready ? 'Ready' : `Not ready (${p.phase || 'unknown'})`),
          h('td', { className: 'mono' }, p.ip || '–'), h('td', { className: 'n' }, num(p.objects)),
          h('td', { className: 'n' }, pct(p.hitRatio)), h('td', { className: 'n' }, bytes(p.bytes)), h('td', { className: 'err' }, p.error || ''))) :
          h('tr', {}, h('td', { colSpan: 7, className: 'empty' }, 'No pods.')))));
  }

  return stream(`/api/fleets/watch?${new URLSearchParams({ namespace: state.namespace })}`, {
    fleets(fleets) {
      replace(list, fleets.length ? fleets.map(fleet) : h('p', { className: 'empty' }, 'No CacheProxy here.'));
    },
  }, 'fleets');
}
