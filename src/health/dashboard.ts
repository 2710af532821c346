/**
 * @module
 * The dashboard: one self-contained page (no CDN), served at `/`. The chart library, uPlot (MIT, an npm dependency),
 * is read from its package's prebuilt, minified browser build on the first request and inlined into the page with
 * its CSS; the page is then cached for the process's life. So `npm start` needs no build step, and no generated
 * file has to be kept in step with the library. If uPlot cannot be read (a pruned install), the page is served
 * without charts (each chart says so) and a warning is logged once. The script is in `dashboard-script.ts`; what
 * the page shows is described in docs/dashboard.md.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from '../logger.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

/** The chart library's browser build: its script (defines the global `uPlot`) and its CSS. */
export interface ChartLibrary {
  readonly script: string;
  readonly css: string;
}

/** Read uPlot's IIFE build and CSS from node_modules. @throws whatever `require.resolve` or the read throws. */
export function loadChartLibrary(): ChartLibrary {
  const require = createRequire(import.meta.url);
  return {
    script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

const STYLE = `
  :root { --bg: #0f172a; --panel: #1e293b; --text: #e2e8f0; --muted: #94a3b8; --ok: #22c55e; --warn: #f59e0b; --bad: #ef4444; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; flex-wrap: wrap; gap: 12px 16px; padding: 12px 24px; background: var(--panel); }
  header h1 { margin: 0; font-size: 18px; }
  header label { margin-left: auto; color: var(--muted); }
  input { background: var(--bg); color: var(--text); border: 1px solid #334155; border-radius: 4px; padding: 3px 6px; }
  button { background: #334155; color: var(--text); border: 0; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
  button:hover { background: #475569; }
  button:disabled { opacity: .4; cursor: default; }
  .badge { padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; }
  .ok { background: var(--ok); color: #052e16; } .bad { background: var(--bad); color: #450a0a; } .warn { background: var(--warn); color: #451a03; }
  .bad-text { color: var(--bad); }
  main { padding: 12px 24px; display: grid; gap: 12px; grid-template-columns: 1fr 1fr; }
  section { background: var(--panel); border-radius: 8px; padding: 10px 14px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { margin: 0 0 8px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
  h2 span { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #334155; white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; }
  .scroll { max-height: 260px; overflow: auto; }
  .charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
  .uplot, .u-title { color: var(--text); }
  #events { max-height: 260px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
  #events div { padding: 2px 0; border-bottom: 1px solid #334155; }
  #preview { max-height: 160px; overflow: auto; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12px; margin: 8px 0 0; }
  .muted { color: var(--muted); }
`;

const BODY = `
<header>
  <h1>RouteMQ</h1>
  <span id="ready" class="badge warn">connecting…</span>
  <span id="summary" class="muted"></span>
  <label>token <input id="token" type="password" size="14" autocomplete="off" title="HEALTH_HTTP_TOKEN: actions, replays and purges need it"></label>
  <span id="note" class="muted"></span>
</header>
<main>
  <section class="wide"><h2>Routes <span class="muted">counts since each process started; p95 of the handler time over the last 60 s</span></h2><div class="scroll">
    <table id="routes"><thead><tr><th>Route</th><th>Pool</th><th>Received</th><th>Handled</th><th>Failed</th><th>Retried</th><th>Dead-lettered</th><th>Error rate</th><th>p95 ms</th></tr></thead><tbody></tbody></table>
  </div></section>
  <section class="wide"><h2>Last 15 minutes <span class="muted">per pool, and main</span></h2>
    <div class="charts"><div id="chart-rate" class="chart"></div><div id="chart-p95" class="chart"></div><div id="chart-busy" class="chart"></div></div>
  </section>
  <section class="wide"><h2>Pools</h2>
    <table id="pools"><thead><tr><th>Pool</th><th>Routes</th><th>Ready / desired</th><th>Busy</th><th>Msg/s</th><th>p95 ms</th><th>Degraded</th><th>Restarts</th><th>Scale</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Processes</h2><div class="scroll">
    <table id="workers"><thead><tr><th>Worker</th><th>PID</th><th>State</th><th>CPU %</th><th>Memory MB</th><th>Uptime</th><th>Restarts</th><th>msg/s (10 s)</th><th>p95 ms (60 s)</th><th></th></tr></thead><tbody></tbody></table>
  </div></section>
  <section class="wide"><h2>Dead letters <span id="dl-total" class="muted"></span></h2><div class="scroll">
    <table id="dead-letters"><thead><tr><th>Failed at</th><th>Route</th><th>Topic</th><th>Code</th><th>Attempts</th><th>Bytes</th><th>Replayed</th><th></th></tr></thead><tbody></tbody></table>
  </div><pre id="preview" class="muted"></pre></section>
  <section><h2>Sessions <span id="sessions-total" class="muted"></span></h2><div class="scroll">
    <table id="sessions"><thead><tr><th>Client id</th><th>Instance</th><th>Pool</th><th>Slot</th><th>State</th><th>Age s</th></tr></thead><tbody></tbody></table>
  </div></section>
  <section><h2>Events <span class="muted">newest first, the last 200</span></h2><div id="events"></div></section>
</main>
`;

/** The page, with `charts` inlined (or without charts). A `</script` in the library would end the tag: refused. */
export function renderDashboard(charts: ChartLibrary | undefined): string {
  const library = charts && !/<\/script/i.test(charts.script) ? charts : undefined;
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>RouteMQ</title>\n' +
    `<style>${library?.css ?? ''}${STYLE}</style>\n</head>\n<body>${BODY}` +
    (library ? `<script>${library.script}</script>\n` : '') +
    `<script>${DASHBOARD_SCRIPT}</script>\n</body>\n</html>\n`
  );
}

let cached: string | undefined;

/** The page, built on the first call and cached. */
export function dashboardPage(logger: Logger, load: () => ChartLibrary = loadChartLibrary): string {
  if (cached !== undefined) return cached;
  let charts: ChartLibrary | undefined;
  try {
    charts = load();
  } catch (err) {
    logger.warn({ err }, 'the dashboard serves no charts: the uplot package could not be read');
  }
  cached = renderDashboard(charts);
  return cached;
}
