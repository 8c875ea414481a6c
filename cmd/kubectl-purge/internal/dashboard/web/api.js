// Talking to the dashboard's server: JSON requests, server-sent event
// streams, and the page's one alert region.

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const token = meta('dashboard-token');
export const startNamespace = meta('dashboard-namespace');

// ApiError carries the server's message: for a refusal of the API server,
// its own words.
export class ApiError extends Error {
  constructor(body, status) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body.reason;
    this.causes = body.causes || [];
  }
}

// request sends a JSON request; state-changing ones carry the run's token.
export async function request(method, path, body, signal) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-Purge-Dashboard-Token'] = token;
  }
  const resp = await fetch(path, { method, headers, body: body && JSON.stringify(body), signal });
  const text = await resp.text();
  let data;
  try { data = JSON.parse(text); } catch { data = { message: text.trim() }; }
  if (!resp.ok) throw new ApiError(data, resp.status);
  return data;
}

// stream listens to a server-sent event stream: handlers maps event names
// to functions of the parsed data. A "failure" event (the API server
// refused) is shown as an alert and ends the stream. Returns a function
// that closes it.
export function stream(path, handlers, alertKey = path) {
  const es = new EventSource(path);
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  es.addEventListener('failure', (e) => {
    showError(alertKey, JSON.parse(e.data).message);
    es.close();
  });
  es.addEventListener('open', () => clearError(alertKey + ':connection'));
  es.onerror = () => {
    if (es.readyState === EventSource.CONNECTING) {
      showError(alertKey + ':connection', 'Lost the connection to the dashboard server; reconnecting…');
    }
  };
  return () => es.close();
}

// The alert region holds one message per key; views clear theirs.
const alerts = new Map();
function renderAlerts() {
  const el = document.getElementById('alerts');
  el.replaceChildren(...[...new Set(alerts.values())].map((m) => {
    const p = document.createElement('p');
    p.textContent = m;
    return p;
  }));
}
export function showError(key, message) {
  alerts.set(key, message);
  renderAlerts();
}
export function clearError(key) {
  if (alerts.delete(key)) renderAlerts();
}
export function clearAllErrors() {
  alerts.clear();
  renderAlerts();
}
