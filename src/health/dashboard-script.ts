/**
 * The dashboard page's script (plain browser JavaScript in a string; `dashboard.ts` puts it in the page). It
 * follows `/events` (health samples and lifecycle events), polls `/dashboard/data` (routes, sessions, chart
 * history, event history) every 2 s, and `/dead-letters` every 5 s. It never reads `/status`: each read of it takes
 * a fresh sample, which resets the workers' msg/s (until the live figures are reworked). Every list it draws is capped
 * (`CAP`), so the page's DOM stays bounded whatever the app does.
 */
export const DASHBOARD_SCRIPT = String.raw`
const CAP = { events: 200, routes: 200, workers: 300, deadLetters: 50, sessions: 100, preview: 2000 };
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const round1 = (n) => Math.round(n * 10) / 10;
const dash = (v, f = (x) => x) => (v === undefined || v === null || Number.isNaN(v) ? '–' : esc(f(v)));
const secs = (ms) => ms >= 3600000 ? (ms / 3600000).toFixed(1) + ' h' : ms >= 60000 ? (ms / 60000).toFixed(1) + ' min' : Math.round(ms / 1000) + ' s';
const params = new URLSearchParams(location.search);
let token = params.get('token') || sessionStorage.getItem('routemq-token') || '';
$('token').value = token;
$('token').addEventListener('change', (e) => { token = e.target.value; sessionStorage.setItem('routemq-token', token); });
const readQuery = () => (token ? '?token=' + encodeURIComponent(token) : '');
const withToken = (path) => path + (token ? (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : '');
async function getJson(path) {
  const r = await fetch(withToken(path), { cache: 'no-store' });
  // A string, shown as is next to the token field by every(): a read that failed (401 without the token).
  if (!r.ok) throw path + ': ' + r.status;
  return r.json();
}
/** Changes send the token in the header only (the server refuses it in the URL). */
async function post(path, method, body) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = 'Bearer ' + token;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await r.json().catch(() => ({}));
  note(r.ok ? method + ' ' + path + ': done' : method + ' ' + path + ': ' + r.status + ' ' + (answer.code || '') + ' ' + (answer.error || ''), !r.ok);
  return { ok: r.ok, body: answer };
}
function note(text, bad) { const n = $('note'); n.textContent = text; n.className = bad ? 'bad-text' : 'muted'; }

let info;
function renderHeader(h) {
  const ready = $('ready');
  ready.textContent = h.ready ? 'ready' : 'not ready';
  ready.className = 'badge ' + (h.ready ? 'ok' : 'bad');
  ready.title = (h.problems || []).join('\n');
  const up = info ? Date.now() - info.startedAt : h.main.uptimeMs;
  $('summary').innerHTML = (info ? 'instance <b>' + esc(info.instance) + '</b> · broker <b>' + esc(info.broker) + '</b> · group <b>' +
    esc(info.group) + '</b> · v' + esc(info.version) + ' · ' : '') + 'up ' + secs(up) + ' · ' + h.activeWorkers + '/' + h.totalWorkers +
    ' workers ready · mqtt ' + (h.mqttConnected ? 'connected' : 'down');
}
/** A worker's msg/s (last 10 s) and p95 (last 60 s): the monitor's live figures, read from counters, never reset. */
function renderHealth(h) {
  renderHeader(h);
  $('pools').tBodies[0].innerHTML = h.pools.map((p) =>
    '<tr data-pool="' + esc(p.name) + '"><td>' + esc(p.name) + '</td><td>' + esc(p.routes.join(', ')) + '</td><td class="count">' + p.ready + ' / ' + p.desired +
    '</td><td class="busy">' + Math.round((p.load ? p.load.busyRatio : 0) * 100) + '%</td><td>' + dash(p.load && p.load.messagesPerSecond, round1) + '</td><td>' +
    dash(p.load && p.load.p95Ms, round1) + '</td><td>' + (p.degraded ? '<span class="badge bad">degraded</span>' : 'no') + '</td><td>' + p.totalRestarts +
    '</td><td><button class="scale-down" data-pool="' + esc(p.name) + '" data-count="' + (p.desired - 1) + '"' + (p.desired <= 1 ? ' disabled' : '') + '>−</button> <button class="scale-up" data-pool="' +
    esc(p.name) + '" data-count="' + (p.desired + 1) + '">+</button></td></tr>').join('');
  const m = h.main;
  const mainRow = '<tr data-worker="main" data-state="' + esc(h.state) + '"><td>main</td><td>' + esc(m.pid) + '</td><td class="state"><span class="badge ' +
    (h.mqttConnected ? 'ok' : 'bad') + '">' + esc(h.state) + '</span></td><td>' + m.cpuPercent + '</td><td>' + m.memoryMb + '</td><td>' + secs(m.uptimeMs) +
    '</td><td>–</td><td>' + dash(m.stats && m.stats.total.handled) + ' handled</td><td>–</td><td><button class="reload">reload pools</button></td></tr>';
  $('workers').tBodies[0].innerHTML = mainRow + h.workers.slice(0, CAP.workers).map((w) =>
    '<tr data-worker="' + esc(w.workerId) + '" data-state="' + esc(w.status) + '"><td>' + esc(w.workerId) + '</td><td>' + esc(w.pid) + '</td><td class="state"><span class="badge ' +
    (w.status === 'ready' ? 'ok' : w.status === 'starting' || w.status === 'draining' ? 'warn' : 'bad') + '">' + esc(w.status) + '</span></td><td>' + w.cpuPercent +
    '</td><td>' + w.memoryMb + '</td><td>' + secs(w.uptimeMs) + '</td><td>' + w.restarts + '</td><td>' + dash(w.recent ? w.recent.messagesPerSecond : w.load && w.load.messagesPerSecond, round1) + '</td><td>' +
    dash(w.recent ? w.recent.p95Ms : w.load && w.load.p95Ms, round1) +
    '</td><td><button class="restart" data-worker="' + esc(w.workerId) + '">restart</button></td></tr>').join('');
}
document.addEventListener('click', async (e) => {
  const b = e.target.closest('button');
  if (!b) return;
  if (b.classList.contains('scale-up') || b.classList.contains('scale-down')) {
    await post('control', 'POST', { cmd: 'scale', pool: b.dataset.pool, count: Number(b.dataset.count) });
  } else if (b.classList.contains('restart')) {
    await post('control', 'POST', { cmd: 'restart-worker', workerId: b.dataset.worker });
  } else if (b.classList.contains('reload')) {
    await post('control', 'POST', { cmd: 'reload' });
  } else if (b.classList.contains('replay')) {
    await post('dead-letters/' + encodeURIComponent(b.dataset.id) + '/replay', 'POST', {});
    void refreshDeadLetters();
  } else if (b.classList.contains('purge')) {
    if (!confirm('Purge dead letter ' + b.dataset.id + '?')) return;
    await post('dead-letters/' + encodeURIComponent(b.dataset.id), 'DELETE');
    void refreshDeadLetters();
  } else if (b.classList.contains('preview')) {
    const d = await getJson('dead-letters/' + encodeURIComponent(b.dataset.id)).catch((err) => ({ error: String(err) }));
    const text = d.payload === undefined ? JSON.stringify(d) : d.payload;
    $('preview').textContent = b.dataset.id + ' · ' + (d.topic || '') + ' · ' + (d.error ? d.error.code + ': ' + d.error.message : '') + ' · ' + (d.payloadEncoding || '') + '\n' +
      (text.length > CAP.preview ? text.slice(0, CAP.preview) + '… (' + text.length + ' chars)' : text);
  }
});

const seen = new Set();
const eventKey = (e) => e.at + ' ' + e.type + ' ' + JSON.stringify(e.data);
function addEvent(e) {
  const key = eventKey(e);
  if (seen.has(key)) return;
  seen.add(key);
  const row = document.createElement('div');
  row.className = 'event';
  row.dataset.type = e.type;
  row.dataset.key = key;
  const d = e.data || {};
  row.textContent = new Date(e.at).toLocaleTimeString() + '  ' + e.type + '  ' + [d.workerId, d.pool && !d.workerId ? d.pool : '', d.pid ? 'pid ' + d.pid : '',
    d.code ?? '', d.topic ?? '', d.reason ?? '', d.from !== undefined && d.to !== undefined ? d.from + ' → ' + d.to : ''].filter(Boolean).join('  ');
  const list = $('events');
  list.prepend(row);
  while (list.children.length > CAP.events) { seen.delete(list.lastChild.dataset.key); list.lastChild.remove(); }
}

function renderRoutes(routes) {
  const pct = (r) => (r * 100).toFixed(1) + '%';
  $('routes').tBodies[0].innerHTML = routes.slice(0, CAP.routes).map((r) =>
    '<tr data-route="' + esc(r.route) + '" data-pool="' + esc(r.pool) + '"><td>' + esc(r.route) + '</td><td>' + esc(r.pool) + '</td><td>' + dash(r.received) + '</td><td class="handled">' +
    dash(r.handled) + '</td><td>' + dash(r.failed) + '</td><td>' + dash(r.retried) + '</td><td>' + dash(r.deadLettered) + '</td><td>' + dash(r.errorRate, pct) +
    '</td><td>' + dash(r.p95Ms) + '</td></tr>').join('');
}

const COLORS = ['#38bdf8', '#f472b6', '#a3e635', '#fbbf24', '#c084fc', '#f87171', '#2dd4bf', '#fb923c'];
const charts = {};
/** One colour per name in every chart and whenever the chart is built: main white, a pool by a hash of its name. */
const colour = (name) => name === 'main' ? '#e2e8f0' : COLORS[[...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % COLORS.length];
function drawChart(id, title, series, index) {
  const el = $(id);
  if (typeof uPlot === 'undefined') { el.textContent = 'charts unavailable (the chart library did not load)'; return; }
  const names = Object.keys(series).filter((n) => series[n].some((p) => p[index] !== null)).sort();
  const times = [...new Set(names.flatMap((n) => series[n].map((p) => Math.round(p[0] / 1000))))].sort((a, b) => a - b);
  const columns = names.map((n) => { const byT = new Map(series[n].map((p) => [Math.round(p[0] / 1000), p[index]])); return times.map((t) => byT.get(t) ?? null); });
  const data = [times, ...columns];
  const signature = names.join('|');
  const existing = charts[id];
  if (existing && existing.signature === signature) { existing.plot.setData(data); el.dataset.points = String(times.length); return; }
  if (existing) existing.plot.destroy();
  const opts = { title, width: Math.max(300, el.clientWidth || 360), height: 180, spanGaps: true,
    axes: [{ stroke: '#94a3b8', grid: { stroke: '#334155' } }, { stroke: '#94a3b8', grid: { stroke: '#334155' } }],
    legend: { live: false },
    series: [{}, ...names.map((n) => ({ label: n, stroke: colour(n), width: 2 }))] };
  charts[id] = { signature, plot: new uPlot(opts, data, el) };
  el.dataset.points = String(times.length);
}

async function refreshData() {
  const d = await getJson('dashboard/data');
  info = d.info;
  renderRoutes(d.routes);
  renderSessions(d.sessions || []);
  for (const e of d.events) addEvent(e);
  drawChart('chart-rate', 'msg/s (15 min)', d.series, 1);
  drawChart('chart-p95', 'p95 ms (15 min)', d.series, 2);
  drawChart('chart-busy', 'busy ratio (15 min)', d.series, 3);
}

async function refreshDeadLetters() {
  const page = await getJson('dead-letters?limit=' + CAP.deadLetters);
  $('dl-total').textContent = page.total + ' stored' + (page.total > CAP.deadLetters ? ', the oldest ' + CAP.deadLetters + ' shown' : '');
  $('dead-letters').tBodies[0].innerHTML = page.items.map((d) =>
    '<tr data-dead-letter="' + esc(d.id) + '"><td>' + esc(d.failedAt) + '</td><td>' + esc(d.route) + '</td><td>' + esc(d.topic) + '</td><td>' + esc(d.code) + '</td><td>' +
    esc(d.attempts) + '</td><td>' + esc(d.payloadBytes) + '</td><td class="replayed">' + (d.replayed ? 'replayed ' + esc(d.replayed.at) : '–') + '</td><td>' +
    '<button class="preview" data-id="' + esc(d.id) + '">preview</button> <button class="replay" data-id="' + esc(d.id) + '">replay</button> <button class="purge" data-id="' +
    esc(d.id) + '">purge</button></td></tr>').join('');
}

function renderSessions(list) {
  $('sessions').tBodies[0].innerHTML = list.slice(0, CAP.sessions).map((x) =>
    '<tr data-session="' + esc(x.clientId) + '"><td>' + esc(x.clientId) + '</td><td>' + esc(x.instance) + '</td><td>' + esc(x.pool) + '</td><td>' + esc(x.slot) +
    '</td><td>' + esc(x.state) + '</td><td>' + dash(x.ageS) + '</td></tr>').join('');
  $('sessions-total').textContent = list.length + ' sessions' + (list.length > CAP.sessions ? ', first ' + CAP.sessions + ' shown' : '');
}

const every = (fn, ms) => { const run = () => fn().catch((err) => note(String(err), true)); void run(); setInterval(run, ms); };
every(refreshData, 2000);
every(refreshDeadLetters, 5000);
const source = new EventSource('events' + readQuery());
source.addEventListener('health', (m) => renderHealth(JSON.parse(m.data)));
source.addEventListener('lifecycle', (m) => {
  const e = JSON.parse(m.data);
  addEvent(e);
  if (e.type === 'message.dead_lettered') void refreshDeadLetters().catch(() => undefined);
});
source.onerror = () => { $('ready').textContent = 'disconnected'; $('ready').className = 'badge warn'; };
`;
