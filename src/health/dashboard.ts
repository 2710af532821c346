/**
 * The dashboard: one self-contained page (no CDN, no build step). It subscribes to `/events` (Server-Sent Events)
 * and redraws pools, workers and the event log on every `health` and `lifecycle` event, without a reload. A
 * `?token=` in the page's URL is passed on to `/events` when the server requires a bearer token.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RouteMQ</title>
<style>
  :root { --bg: #0f172a; --panel: #1e293b; --text: #e2e8f0; --muted: #94a3b8; --ok: #22c55e; --warn: #f59e0b; --bad: #ef4444; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; background: var(--panel); }
  header h1 { margin: 0; font-size: 18px; }
  .badge { padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; }
  .ok { background: var(--ok); color: #052e16; } .bad { background: var(--bad); color: #450a0a; } .warn { background: var(--warn); color: #451a03; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  section { background: var(--panel); border-radius: 8px; padding: 12px 16px; }
  h2 { margin: 0 0 8px; font-size: 14px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #334155; }
  th { color: var(--muted); font-weight: 500; }
  #events { max-height: 260px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
  #events div { padding: 2px 0; border-bottom: 1px solid #334155; }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>RouteMQ</h1>
  <span id="ready" class="badge warn">connecting…</span>
  <span id="summary" class="muted"></span>
</header>
<main>
  <section><h2>Pools</h2>
    <table id="pools"><thead><tr><th>Pool</th><th>Routes</th><th>Ready / desired</th><th>Busy</th><th>Msg/s (10 s)</th><th>Degraded</th><th>Restarts</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Workers</h2>
    <table id="workers"><thead><tr><th>Worker</th><th>PID</th><th>State</th><th>CPU %</th><th>Memory MB</th><th>Uptime</th><th>Restarts</th><th>msg/s (10 s)</th><th>p95 ms (60 s)</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Events</h2><div id="events"></div></section>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  const esc = (v) => String(v ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const secs = (ms) => ms >= 3600000 ? (ms / 3600000).toFixed(1) + ' h' : ms >= 60000 ? (ms / 60000).toFixed(1) + ' min' : Math.round(ms / 1000) + ' s';
  function renderHealth(h) {
    const ready = $('ready');
    ready.textContent = h.ready ? 'ready' : 'not ready';
    ready.className = 'badge ' + (h.ready ? 'ok' : 'bad');
    ready.title = (h.problems || []).join('\\n');
    $('summary').textContent = h.activeWorkers + '/' + h.totalWorkers + ' workers ready · main pid ' + h.main.pid + ' · mqtt ' + (h.mqttConnected ? 'connected' : 'down');
    // The main process runs the non-shared routes: shown as the pool and worker "main".
    const m = h.main;
    const mainPool = '<tr data-pool="main"><td>main</td><td>' + esc(m.routes.join(', ')) + '</td><td>1 / 1</td><td>–</td><td>' + m.recent.messagesPerSecond + '</td><td>no</td><td>0</td></tr>';
    const mainWorker = '<tr data-worker="main" data-state="' + esc(h.state) + '"><td>main</td><td>' + esc(m.pid) + '</td><td class="state"><span class="badge ok">' + esc(h.state) + '</span></td><td>' + m.cpuPercent +
      '</td><td>' + m.memoryMb + '</td><td>' + secs(m.uptimeMs) + '</td><td>0</td><td>' + m.recent.messagesPerSecond + '</td><td>' + esc(m.recent.p95Ms ?? '–') + '</td></tr>';
    $('pools').tBodies[0].innerHTML = mainPool + h.pools.map((p) =>
      '<tr data-pool="' + esc(p.name) + '"><td>' + esc(p.name) + '</td><td>' + esc(p.routes.join(', ')) + '</td><td>' + p.ready + ' / ' + p.desired +
      '</td><td class="busy">' + Math.round((p.load ? p.load.busyRatio : 0) * 100) + '%</td><td>' + p.recent.messagesPerSecond + '</td><td>' + (p.degraded ? '<span class="badge bad">degraded</span>' : 'no') + '</td><td>' + p.totalRestarts + '</td></tr>').join('');
    $('workers').tBodies[0].innerHTML = mainWorker + h.workers.map((w) =>
      '<tr data-worker="' + esc(w.workerId) + '" data-state="' + esc(w.status) + '"><td>' + esc(w.workerId) + '</td><td>' + esc(w.pid) + '</td><td class="state"><span class="badge ' +
      (w.status === 'ready' ? 'ok' : w.status === 'starting' || w.status === 'draining' ? 'warn' : 'bad') + '">' + esc(w.status) + '</span></td><td>' + w.cpuPercent +
      '</td><td>' + w.memoryMb + '</td><td>' + secs(w.uptimeMs) + '</td><td>' + w.restarts + '</td><td>' + w.recent.messagesPerSecond + '</td><td>' + esc(w.recent.p95Ms ?? '–') + '</td></tr>').join('');
  }
  function addEvent(e) {
    const row = document.createElement('div');
    row.className = 'event';
    row.dataset.type = e.type;
    const d = e.data || {};
    row.textContent = new Date(e.at).toLocaleTimeString() + '  ' + e.type + '  ' + [d.workerId, d.pool && !d.workerId ? d.pool : '', d.pid ? 'pid ' + d.pid : '', d.code ?? '', d.topic ?? '', d.reason ?? ''].filter(Boolean).join('  ');
    $('events').prepend(row);
  }
  const token = new URLSearchParams(location.search).get('token');
  const source = new EventSource('events' + (token ? '?token=' + encodeURIComponent(token) : ''));
  source.addEventListener('health', (m) => renderHealth(JSON.parse(m.data)));
  source.addEventListener('lifecycle', (m) => addEvent(JSON.parse(m.data)));
  source.onerror = () => { $('ready').textContent = 'disconnected'; $('ready').className = 'badge warn'; };
</script>
</body>
</html>
`;
