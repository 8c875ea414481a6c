// The page's one inline script (index.html holds it; the
// Content-Security-Policy allows it by its hash). It starts the app once the
// first screen, which the page as served holds, has been painted: fetching,
// compiling and running the modules, and the API requests they make, then
// do not compete with the first frame for the CPU. A page loaded hidden
// (nothing is painted until it is shown) or a browser without paint timing
// starts at once, and none waits more than a second.
let started = false;
const start = () => {
  if (started) return;
  started = true;
  for (const href of document.querySelector('meta[name="dashboard-modules"]').content.split(' ')) {
    document.head.append(Object.assign(document.createElement('link'), { rel: 'modulepreload', href }));
  }
  import('/assets/app.js').catch((e) => {
    document.getElementById('alerts').textContent = `The dashboard's scripts did not load: ${e.message}`;
  });
};
if (document.visibilityState === 'hidden' || !PerformanceObserver.supportedEntryTypes.includes('paint')) {
  start();
} else {
  new PerformanceObserver((list, observer) => {
    if (list.getEntriesByName('first-contentful-paint').length) {
      observer.disconnect();
      start();
    }
  }).observe({ type: 'paint', buffered: true });
  document.addEventListener('visibilitychange', start, { once: true });
  setTimeout(start, 1000);
}
