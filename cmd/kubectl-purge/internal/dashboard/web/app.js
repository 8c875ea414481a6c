// The dashboard's entry point: routes the path to a view and keeps the
// namespace choice.
import { request, startNamespace, clearAllErrors } from './api.js';
import { h, replace } from './dom.js';
import { wizardView } from './wizard.js';
import { historyView } from './history.js';
import { detailView } from './detail.js';
import { fleetsView } from './fleets.js';

const main = document.getElementById('main');
// The page as served shows the namespace as text (a form control costs
// the first frame more than the rest of the header): the select takes its
// place.
const nsSelect = h('select', { id: 'namespace' }, h('option', {}, startNamespace));
document.getElementById('namespace-box').replaceWith(h('label', { className: 'ns' }, 'Namespace ', nsSelect));
const ALL = '';

// state is what every view reads: the namespace ('' for all of them).
export const state = { namespace: startNamespace };

let stopView = () => {};

// navigate shows path without reloading the page.
export function navigate(path) {
  history.pushState(null, '', path);
  route();
}

function route() {
  stopView();
  clearAllErrors();
  const path = location.pathname;
  const detail = path.match(/^\/purges\/([^/]+)\/([^/]+)$/);
  let section = 'home';
  const stops = [];
  if (detail) {
    section = '';
    stops.push(detailView(main, decodeURIComponent(detail[1]), decodeURIComponent(detail[2])));
  } else if (path === '/fleets') {
    section = 'fleets';
    stops.push(fleetsView(main));
  } else {
    // The page as served holds the two panels (index.html), so the first
    // paint shows them before this script runs; other routes replace them.
    let home = main.querySelector(':scope > .home');
    if (!home) {
      home = h('div', { className: 'home' },
        h('section', { className: 'panel wizard', 'aria-labelledby': 'new-purge' }),
        h('section', { className: 'panel history', 'aria-labelledby': 'history' }));
      replace(main, home);
    }
    const [left, right] = home.children;
    stops.push(wizardView(left), historyView(right));
  }
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  stopView = () => stops.forEach((s) => s && s());
}

// Links inside the app change the view without a reload.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href^="/"]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

nsSelect.addEventListener('change', () => {
  state.namespace = nsSelect.value;
  route();
});

async function loadContext() {
  try {
    const ctx = await request('GET', '/api/context');
    const options = ctx.namespaces.map((n) => h('option', { value: n, selected: n === state.namespace }, n));
    if (ctx.namespaces.length > 1) options.unshift(h('option', { value: ALL }, 'All namespaces'));
    replace(nsSelect, options);
    if (ctx.user) document.getElementById('user').textContent = ctx.user;
  } catch {
    // The namespace of the kubeconfig stays the only choice.
  }
}

route();
performance.mark('dashboard-shell');
loadContext();
