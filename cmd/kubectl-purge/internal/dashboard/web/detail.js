// Purge detail: spec, phase, conditions, the per-pod table filled in live
// from the server's watch stream, totals and events.
import { request, stream, showError, clearError } from './api.js';
import { h, replace, num, time, duration, phaseBadge } from './dom.js';
import { navigate } from './app.js';

const POD_COLUMNS = ['Pod', 'IP', 'Phase', 'Attempts', 'Matched', 'Invalidated', 'Refetched', 'Last error', 'Last attempt'];

export function detailView(root, ns, name) {
  const title = h('h1', {}, 'Purge ', h('span', { className: 'mono' }, name));
  const phase = h('span', { className: 'phase' });
  const spec = h('dl', { className: 'spec' });
  const totals = h('dl', { className: 'totals' });
  const failure = h('div', { className: 'failure' });
  const pods = h('tbody');
  const conditions = h('tbody');
  const events = h('tbody');
  replace(root, h('article', { className: 'detail' },
    h('p', { className: 'crumbs' }, h('a', { href: '/' }, 'History'), ' / ', ns),
    h('div', { className: 'title' }, title, phase),
    h('div', { className: 'cols' }, h('section', { 'aria-label': 'Spec' }, spec), h('section', { 'aria-label': 'Totals' }, totals)),
    failure,
    h('div', { className: 'scroll' }, h('table', { className: 'grid pods' }, h('caption', {}, 'Pods'),
      h('thead', {}, h('tr', {}, POD_COLUMNS.map((c, i) => h('th', { scope: 'col', className: i >= 3 && i <= 6 ? 'n' : '' }, c)))), pods)),
    h('table', { className: 'grid' }, h('caption', {}, 'Conditions'),
      h('thead', {}, h('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Since'].map((c) => h('th', { scope: 'col' }, c)))), conditions),
    h('table', { className: 'grid' }, h('caption', {}, 'Events'),
      h('thead', {}, h('tr', {}, ['Type', 'Reason', 'Message', 'Count', 'Last seen'].map((c) => h('th', { scope: 'col', className: c === 'Count' ? 'n' : '' }, c)))), events)));
  replace(pods, h('tr', {}, h('td', { colSpan: POD_COLUMNS.length, className: 'empty' }, 'Loading…')));

  function showSpec(p, createdBy) {
    const s = p.spec;
    const item = (k, ...v) => [h('dt', {}, k), h('dd', {}, ...v)];
    replace(spec,
      item('CacheProxy', s.cacheProxyRef.name),
      item('Method', [s.mode, s.refetch && 'warm up (refetch)', s.dryRun && 'dry run: count only', s.confirmHostRootBan && 'host-root ban confirmed'].filter(Boolean).join(', ')),
      s.urls && s.urls.length && item(s.mode === 'ban' ? `Patterns (${s.urls.length})` : `URLs (${s.urls.length})`,
        h('ul', { className: 'urls' }, s.urls.map((u) => h('li', { className: 'mono' }, u)))),
      s.tags && s.tags.length && item(`Tags (${s.tags.length})`, s.tags.join(', ')),
      s.podNames && s.podNames.length && item('Only pods', h('span', { className: 'mono' }, s.podNames.join(', '))),
      item('Created by', createdBy),
      item('Created', time(p.metadata.creationTimestamp)));
  }

  function showStatus(p) {
    const st = p.status || {};
    replace(phase, phaseBadge(st.phase));
    const item = (k, v) => [h('dt', {}, k), h('dd', { className: 'n' }, v)];
    replace(totals,
      item('Pods done', st.progress || '–'),
      item('Matched', num(st.objectsMatched || 0)),
      item('Invalidated', num(st.objectsInvalidated || 0)),
      item('Refetched', num(st.objectsRefetched || 0)),
      item('Duration', st.completionTime ? duration(st.startTime || p.metadata.creationTimestamp, st.completionTime) : (st.startTime ? 'running' : '–')));
    const list = st.pods || [];
    replace(pods, list.length ? list.map((pod) => h('tr', { className: `pod-${pod.phase.toLowerCase()}` },
      h('td', { className: 'mono' }, pod.name), h('td', { className: 'mono' }, pod.ip || '–'), h('td', {}, pod.phase),
      h('td', { className: 'n' }, num(pod.attempts || 0)), h('td', { className: 'n' }, num(pod.matched || 0)),
      h('td', { className: 'n' }, num(pod.invalidated || 0)), h('td', { className: 'n' }, num(pod.refetched || 0)),
      h('td', { className: 'err' }, pod.lastError || ''), h('td', {}, time(pod.lastAttemptTime)))) :
      h('tr', {}, h('td', { colSpan: POD_COLUMNS.length, className: 'empty' }, st.phase ? 'No target pods.' : 'Waiting for the operator to choose the target pods…')));
    replace(conditions, (st.conditions || []).map((c) => h('tr', {},
      h('td', {}, c.type), h('td', {}, c.status), h('td', {}, c.reason), h('td', {}, c.message), h('td', {}, time(c.lastTransitionTime)))));
    showFailure(p);
  }

  function showFailure(p) {
    const st = p.status || {};
    if (st.phase !== 'Failed') { replace(failure); return; }
    const failed = (st.pods || []).filter((x) => x.phase === 'Failed');
    const gone = (st.pods || []).filter((x) => x.phase === 'Gone').length;
    const cond = (st.conditions || []).find((c) => c.type === 'Failed' && c.status === 'True');
    replace(failure, h('div', { className: 'failed-box' },
      h('h2', {}, `Failed on ${failed.length} pod${failed.length === 1 ? '' : 's'}`),
      cond && h('p', {}, cond.message),
      h('ul', {}, failed.map((x) => h('li', {}, h('span', { className: 'mono' }, x.name), ': ', x.lastError || 'no error recorded'))),
      gone > 0 && h('p', { className: 'help' }, `${gone} pod${gone === 1 ? ' was' : 's were'} deleted before answering: their cache went with them, nothing to retry.`),
      h('button', { type: 'button', className: 'primary', onclick: () => retry(p, failed.map((x) => x.name)) }, 'Retry failed pods')));
  }

  // retry creates a new Purge with the same spec for the failed pods only
  // (spec.podNames): the pods that succeeded are not called again.
  async function retry(p, pods) {
    clearError('retry');
    const s = p.spec;
    const hosts = (s.urls || []).map((u) => (u.split('://')[1] || '').split('/')[0]);
    try {
      const created = await request('POST', '/api/purges', {
        namespace: ns, cacheProxy: s.cacheProxyRef.name, mode: s.mode, urls: s.urls || [], tags: s.tags || [],
        refetch: !!s.refetch, preview: !!s.dryRun, confirmHosts: s.confirmHostRootBan ? hosts.join(' ') : '', podNames: pods,
      });
      navigate(`/purges/${encodeURIComponent(created.namespace)}/${encodeURIComponent(created.name)}`);
    } catch (e) {
      showError('retry', e.message);
    }
  }

  return stream(`/api/purges/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/watch`, {
    purge({ purge, createdBy }) {
      clearError('detail-missing');
      document.title = `${name} · Purges`;
      showSpec(purge, createdBy);
      showStatus(purge);
    },
    missing() {
      showError('detail-missing', `Purge ${name} does not exist in namespace ${ns} (deleted, or removed after its ttlSecondsAfterFinished).`);
    },
    events(list) {
      replace(events, list.length ? list.map((e) => h('tr', { className: e.type === 'Warning' ? 'warn' : '' },
        h('td', {}, e.type), h('td', {}, e.reason), h('td', {}, e.message), h('td', { className: 'n' }, e.count), h('td', {}, time(e.time)))) :
        h('tr', {}, h('td', { colSpan: 5, className: 'empty' }, 'No events.')));
    },
    eventsFailure(body) {
      replace(events, h('tr', {}, h('td', { colSpan: 5, className: 'empty' }, `Events unavailable: ${body.message}`)));
    },
  }, 'detail');
}

