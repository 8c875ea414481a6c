// New purge: the wizard. Every change is validated by the API server (a
// server-side dry run); Preview runs a real dry-run Purge and shows what
// each pod would invalidate; Purge creates it and opens its page.
import { request, stream, showError, clearError, ApiError } from './api.js';
import { h, replace, num, phaseBadge, uid } from './dom.js';
import { state, navigate } from './app.js';

// The methods, in the words of the CDN documentation the product follows.
const METHODS = [
  { mode: 'simple', name: 'Simple purge',
    text: 'Removes the objects now; users’ next requests for them go to the origin.' },
  { mode: 'soft', name: 'Soft purge',
    text: 'Marks them stale: users get the stale copy at once while one request refreshes it; if the origin fails, they keep the stale copy.' },
  { mode: 'ban', name: 'Ban',
    text: 'Invalidates every object whose URL matches a pattern (a prefix; * matches anything); their next requests go to the origin.' },
];

// entries reads a paste box: one entry a line; blank lines and # comments
// skipped, as `kubectl purge -f` reads files. Each keeps its line number,
// to point at it when the API server refuses it.
const entries = (v) => v.split(/\r?\n/).map((l, i) => ({ text: l.trim(), line: i + 1 }))
  .filter((e) => e.text && !e.text.startsWith('#'));
const lines = (v) => entries(v).map((e) => e.text);
const BOXES = { urls: 'URLs', tags: 'Tags' };

export function wizardView(root) {
  const ns = state.namespace;
  const id = (p) => uid(p);
  const ids = { cp: id('cp'), cpHelp: id('cp-help'), urls: id('urls'), urlsHelp: id('urls-help'), tags: id('tags'),
    tagsHelp: id('tags-help'), refetch: id('refetch'), refetchHelp: id('refetch-help'), confirm: id('confirm'), confirmHelp: id('confirm-help') };
  const stops = [];
  let hostRoots = [];
  let validating = null;

  const cp = h('select', { id: ids.cp, 'aria-describedby': ids.cpHelp, onchange: changed });
  const cpHelp = h('p', { id: ids.cpHelp, className: 'help' });
  const radios = METHODS.map((m, i) => {
    const helpId = id(`m-${m.mode}`);
    const input = h('input', { type: 'radio', name: 'method', value: m.mode, id: id('r'), checked: i === 0, 'aria-describedby': helpId, onchange: changed });
    return h('div', { className: 'method' },
      input, h('label', { for: input.id }, m.name),
      h('p', { id: helpId, className: 'help' }, m.text));
  });
  const urls = h('textarea', { id: ids.urls, rows: 6, spellcheck: false, 'aria-describedby': ids.urlsHelp, oninput: changed,
    placeholder: 'https://www.example.com/app.js' });
  const tags = h('textarea', { id: ids.tags, rows: 2, spellcheck: false, 'aria-describedby': ids.tagsHelp, oninput: changed,
    placeholder: 'product-42' });
  const refetch = h('input', { type: 'checkbox', id: ids.refetch, 'aria-describedby': ids.refetchHelp, onchange: changed });
  const confirm = h('input', { id: ids.confirm, type: 'text', autocomplete: 'off', spellcheck: false, 'aria-describedby': ids.confirmHelp, oninput: changed });
  const confirmLabel = h('label', { for: ids.confirm });
  const confirmBox = h('div', { className: 'confirm', hidden: true }, confirmLabel, confirm,
    h('p', { id: ids.confirmHelp, className: 'help warn' }));
  const validation = h('div', { className: 'validation', role: 'alert' });
  const preview = h('section', { className: 'preview', 'aria-live': 'polite' });
  const previewBtn = h('button', { type: 'button', onclick: () => submit(true) }, 'Preview');
  const purgeBtn = h('button', { type: 'submit', className: 'primary' }, 'Purge');

  const form = h('form', { onsubmit: (e) => { e.preventDefault(); submit(false); }, novalidate: true },
    h('div', { className: 'field' }, h('label', { for: ids.cp }, 'CacheProxy'), cp, cpHelp),
    h('fieldset', { className: 'methods' }, h('legend', {}, 'Method'), radios),
    h('div', { className: 'field drop' },
      h('label', { for: ids.urls }, 'URLs'), urls,
      h('p', { id: ids.urlsHelp, className: 'help' }, 'One absolute URL a line, such as https://www.example.com/app.js?v=2 (the query counts, the scheme does not). With Ban, URL patterns. Paste a list, or drop a text file here.')),
    h('div', { className: 'field' },
      h('label', { for: ids.tags }, 'Tags'), tags,
      h('p', { id: ids.tagsHelp, className: 'help' }, 'One tag a line: purges every object the origin tagged so (Surrogate-Key, Cache-Tag or xkey). Simple and soft purges only.')),
    h('div', { className: 'field check' }, refetch, h('label', { for: ids.refetch }, 'Warm up (refetch)'),
      h('p', { id: ids.refetchHelp, className: 'help' }, 'After the purge, every pod fetches the URLs (or the tagged objects) again from the origin, so no user pays the miss. Not with Ban.')),
    confirmBox,
    validation,
    h('div', { className: 'actions' }, previewBtn, purgeBtn));

  replace(root, h('h2', { id: 'new-purge' }, 'New purge'), form, preview);

  // A text file dropped on the URLs box is appended to it.
  urls.addEventListener('dragover', (e) => e.preventDefault());
  urls.addEventListener('drop', async (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (!file) return;
    const text = await file.text();
    urls.value = (urls.value.trim() ? urls.value.replace(/\s*$/, '\n') : '') + text;
    changed();
  });

  function mode() { return radios.map((r) => r.querySelector('input')).find((r) => r.checked).value; }

  function body(isPreview) {
    return { namespace: ns, cacheProxy: cp.value, mode: mode(), urls: lines(urls.value), tags: lines(tags.value),
      refetch: refetch.checked, preview: isPreview, confirmHosts: confirm.value };
  }

  function syncMethod() {
    const ban = mode() === 'ban';
    tags.disabled = ban;
    refetch.disabled = ban;
    if (ban) refetch.checked = false;
  }

  let timer = 0;
  function changed() {
    clearError('wizard'); // a refusal of the last submit is about what the form held then
    syncMethod();
    clearTimeout(timer);
    timer = setTimeout(validate, 250);
  }

  // validate asks the API server to judge the Purge as it stands.
  async function validate() {
    const b = body(false);
    if (!b.cacheProxy || (!b.urls.length && !b.tags.length)) {
      setValidation(null);
      setHostRoots([]);
      return;
    }
    if (validating) validating.abort();
    validating = new AbortController();
    try {
      const v = await request('POST', '/api/purges/validate', b, validating.signal);
      setHostRoots(v.hostRootBans || []);
      setValidation(v.valid ? null : v);
    } catch (e) {
      if (e.name !== 'AbortError') setValidation({ message: e.message, causes: [] });
    }
  }

  function setValidation(v) {
    urls.removeAttribute('aria-invalid');
    tags.removeAttribute('aria-invalid');
    if (!v) { replace(validation); return; }
    const causes = (v.causes || []).filter((c) => c.message);
    for (const c of causes) {
      if ((c.field || '').startsWith('spec.urls')) urls.setAttribute('aria-invalid', 'true');
      if ((c.field || '').startsWith('spec.tags')) tags.setAttribute('aria-invalid', 'true');
    }
    replace(validation, causes.length ?
      h('ul', {}, causes.map((c) => h('li', {}, c.field ? [h('code', {}, c.field), where(c.field), ': '] : null, c.message))) :
      h('p', {}, v.message));
  }

  // where names the line of the paste box a field path points at:
  // spec.urls[2] is the third URL, which may be on line 5.
  function where(field) {
    const m = field.match(/^spec\.(urls|tags)\[(\d+)\]/);
    const e = m && entries((m[1] === 'urls' ? urls : tags).value)[Number(m[2])];
    return e ? ` (${BOXES[m[1]]}, line ${e.line})` : '';
  }

  function setHostRoots(hosts) {
    hostRoots = hosts;
    confirmBox.hidden = hosts.length === 0;
    if (hosts.length) {
      confirmLabel.textContent = `Type ${hosts.join(' ')} to confirm`;
      confirmBox.querySelector('.help').textContent =
        `This ban empties all of ${hosts.join(', ')} from every pod: all its traffic goes to the origin at once.`;
    }
  }

  async function submit(isPreview) {
    clearError('wizard');
    const b = body(isPreview);
    if (!isPreview && hostRoots.length) {
      const typed = confirm.value.toLowerCase().split(/[\s,]+/);
      if (!hostRoots.every((h) => typed.includes(h.toLowerCase()))) {
        confirm.focus();
        showError('wizard', `Type ${hostRoots.join(' ')} in the confirmation field: this ban empties that host from every pod.`);
        return;
      }
    }
    previewBtn.disabled = purgeBtn.disabled = true;
    try {
      const created = await request('POST', '/api/purges', b);
      if (isPreview) showPreview(created);
      else navigate(`/purges/${encodeURIComponent(created.namespace)}/${encodeURIComponent(created.name)}`);
    } catch (e) {
      showError('wizard', e.message);
      if (e instanceof ApiError && e.reason === 'Invalid') setValidation(e);
    } finally {
      previewBtn.disabled = purgeBtn.disabled = false;
    }
  }

  // showPreview follows the dry-run Purge until every pod has counted.
  function showPreview(p) {
    stops.forEach((s) => s());
    stops.length = 0;
    const tbody = h('tbody');
    const total = h('p', { className: 'total' });
    replace(preview, h('h3', {}, 'Preview'),
      h('p', { className: 'help' }, 'A dry run: every pod counted what this purge would invalidate, and changed nothing. ',
        h('a', { href: `/purges/${encodeURIComponent(p.namespace)}/${encodeURIComponent(p.name)}` }, p.name)),
      h('table', { className: 'grid' }, h('caption', {}, 'Preview by pod'),
        h('thead', {}, h('tr', {}, ['Pod', 'Phase', 'Would invalidate', 'Last error'].map((c, i) => h('th', { scope: 'col', className: i === 2 ? 'n' : '' }, c)))),
        tbody),
      total);
    replace(tbody, h('tr', {}, h('td', { colSpan: 4, className: 'empty' }, 'Waiting for the pods…')));
    const stop = stream(`/api/purges/${encodeURIComponent(p.namespace)}/${encodeURIComponent(p.name)}/watch`, {
      purge({ purge, finished }) {
        const s = purge.status || {};
        if (s.pods && s.pods.length) {
          replace(tbody, s.pods.map((pod) => h('tr', {},
            h('td', {}, pod.name), h('td', {}, pod.phase), h('td', { className: 'n' }, pod.phase === 'Succeeded' ? num(pod.matched || 0) : '–'),
            h('td', { className: 'err' }, pod.lastError || ''))));
        }
        replace(total, s.phase ? phaseBadge(s.phase) : '', ' ',
          finished ? `${num(s.objectsMatched || 0)} objects in all would be invalidated.` : 'Counting…');
        if (finished) stop();
      },
    }, 'preview');
    stops.push(stop);
  }

  async function loadProxies() {
    try {
      const list = await request('GET', `/api/cacheproxies?${new URLSearchParams({ namespace: ns })}`);
      replace(cp, list.length ? list.map((c) => h('option', { value: c.name }, c.name)) : h('option', { value: '' }, 'No CacheProxy in this namespace'));
      const describe = () => {
        const c = list.find((x) => x.name === cp.value);
        cpHelp.textContent = c ? `${c.pods} pod${c.pods === 1 ? '' : 's'}; hosts: ${c.hosts && c.hosts.length ? c.hosts.join(', ') : 'any'}` : '';
      };
      cp.addEventListener('change', describe);
      describe();
    } catch (e) {
      showError('wizard-cacheproxies', e.message);
    }
  }

  async function checkAccess() {
    try {
      const a = await request('GET', `/api/access?${new URLSearchParams({ namespace: ns })}`);
      if (!a.allowed) showError('wizard-access', a.message);
    } catch { /* the create will say */ }
  }

  if (ns === '') {
    replace(form, h('p', { className: 'help' }, 'Choose a namespace to create a Purge in.'));
  } else {
    loadProxies();
    checkAccess();
  }
  syncMethod();
  return () => { stops.forEach((s) => s()); clearTimeout(timer); if (validating) validating.abort(); };
}
