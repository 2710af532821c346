/// <reference lib="dom" />
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { steadyPublisher } from '../helpers/load.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';
import { waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
/** The README's picture: rewritten only with UPDATE_SCREENSHOT=1, so ordinary runs leave the tree clean. */
const README_SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const DASHBOARD_ROUTERS = fileURLToPath(new URL('../fixtures/apps/dashboard/routers', import.meta.url));
const TOKEN = 'dashboard-token-s3cret';

/** Headless Debian Chromium, with what a container without a GPU or network needs. */
function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// .ci/run installs Debian's chromium; without it (a bare development machine) this test cannot run.
describe.skipIf(!existsSync(CHROMIUM))('dashboard in headless Chromium', () => {
  const f = useFixture({ routers: POOLS_ROUTERS });

  it('shows every worker, and a killed worker changes state and logs a restart without a page reload', async () => {
    const port = await freePort();
    const app = await f.serve(
      f.env({
        ROUTEMQ_HEALTH_INTERVAL_MS: '250',
        HEALTH_HTTP_ENABLED: 'true',
        HEALTH_HTTP_PORT: String(port),
        POOL_A_COUNT: '2',
        POOL_B_COUNT: '1',
      }),
    );

    const browser = await launch();
    f.defer(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-worker]').length === 4, undefined, {
      timeout: 15_000,
    });
    // The main process first, then every worker.
    expect(
      await page.locator('tr[data-worker]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-worker'))),
    ).toEqual(['main', 'pa-any-0', 'pa-any-1', 'pb-any-0']);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const pidCell = page.locator('tr[data-worker="pa-any-0"] td').nth(1);
    const oldPid = Number(await pidCell.textContent());
    process.kill(oldPid, 'SIGKILL');

    await page.waitForSelector('#events .event[data-type="worker.restarted"]', { timeout: 15_000 });
    await page.waitForFunction(
      (pid) => {
        const row = document.querySelector('tr[data-worker="pa-any-0"]');
        return (
          row !== null && row.children[1]?.textContent !== String(pid) && row.getAttribute('data-state') === 'ready'
        );
      },
      oldPid,
      { timeout: 15_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(await page.locator('#events .event[data-type="worker.exited"]').count()).toBeGreaterThan(0);
    mkdirSync(OUTPUT, { recursive: true });
    const shot = join(OUTPUT, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    process.stdout.write(`dashboard screenshot: ${shot}\n`);
    expect((await app.stop()).code).toBe(0);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('dashboard v2 in headless Chromium, under load', () => {
  const f = useFixture({ routers: DASHBOARD_ROUTERS });

  it("shows every route (the main connection's too) and charts; replays a dead letter and scales a pool from the page", async () => {
    const port = await freePort();
    const fixed = f.path('fixed');
    const env = f.env({
      ROUTEMQ_HEALTH_INTERVAL_MS: '250',
      HEALTH_HTTP_ENABLED: 'true',
      HEALTH_HTTP_PORT: String(port),
      HEALTH_HTTP_TOKEN: TOKEN,
      ROUTEMQ_STATE_DIR: f.mkdir('state'),
      WORK_WORKERS: '2',
      FIXED_FILE: fixed,
    });
    const app = await f.serve(env);
    const client = await f.connect();
    const load = steadyPublisher(client, { topic: (id) => `work/${id}`, ratePerSec: 40, prefix: 'w' });
    f.defer(() => load.stop());
    for (const id of ['o1', 'o2', 'o3']) await client.publishAsync(`orders/${id}`, `{"order":"${id}"}`, { qos: 1 });

    const browser = await launch();
    f.defer(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    // Reads take the token in the URL (EventSource cannot send a header); the page sends it as a header on changes.
    await page.goto(`http://127.0.0.1:${port}/?token=${TOKEN}`);

    // Route rows: the pool's route and the main connection's, with their counters.
    await page.waitForFunction(
      () => {
        const handled = (sel: string): number => Number(document.querySelector(`${sel} td.handled`)?.textContent);
        return (
          handled('tr[data-route="work/{id}"][data-pool="work"]') > 0 &&
          document.querySelector('tr[data-route="orders/{id}"][data-pool="main"]') !== null
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    const orders = await page.locator('tr[data-route="orders/{id}"] td').allTextContents();
    // route, pool, received, handled, failed, retried, dead-lettered, error rate, p95
    expect(orders.slice(0, 8)).toEqual(['orders/{id}', 'main', '3', '0', '3', '0', '3', '100.0%']);

    // Charts: uPlot canvases, each with points of the last 15 minutes (one a second).
    await page.waitForFunction(
      () =>
        ['chart-rate', 'chart-p95', 'chart-busy'].every((id) => {
          const el = document.getElementById(id);
          return el?.querySelector('canvas') !== null && Number(el?.dataset['points']) >= 3;
        }),
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.locator('#chart-rate .u-legend').textContent()).toContain('work');

    // Header, processes (the main process included), event history from before the page opened.
    const summary = await page.locator('#summary').textContent();
    expect(summary).toContain('instance test');
    expect(summary).toContain(`group ${env.MQTT_GROUP_NAME}`);
    expect(summary).toContain(`127.0.0.1:${f.broker.port}`);
    expect(await page.locator('tr[data-worker="main"]').count()).toBe(1);
    await page.waitForSelector('#events .event[data-type="worker.started"]', { timeout: 15_000 });

    // Dead letters: the three failed orders, with a payload preview.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-dead-letter]').length === 3, undefined, {
      timeout: 20_000,
    });
    const first = page.locator('tr[data-dead-letter]').first();
    const id = (await first.getAttribute('data-dead-letter')) as string;
    await first.locator('button.preview').click();
    await page.waitForFunction(() => document.getElementById('preview')?.textContent?.includes('"order"'), undefined, {
      timeout: 10_000,
    });
    if (process.env['UPDATE_SCREENSHOT'] === '1') {
      // For the README's picture only: charts with some history.
      await page.waitForFunction(
        () => Number(document.getElementById('chart-rate')?.dataset['points']) >= 12,
        undefined,
        {
          timeout: 60_000,
        },
      );
    }
    mkdirSync(OUTPUT, { recursive: true });
    const shot = join(OUTPUT, 'dashboard-v2.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env['UPDATE_SCREENSHOT'] === '1') copyFileSync(shot, README_SCREENSHOT);
    process.stdout.write(`dashboard screenshot: ${shot}\n`);

    // Replay one from the page once the fix is deployed: the main route handles it, marked as that replay.
    writeFileSync(fixed, 'fixed');
    await first.locator('button.replay').click();
    await waitUntil(
      () => readSeen(env.SEEN_FILE).some((s) => s.route === 'orders' && s.version === id),
      20_000,
      'the replayed dead letter handled',
    );
    await page.waitForFunction(
      (replayed) =>
        document.querySelector(`tr[data-dead-letter="${replayed}"] td.replayed`)?.textContent?.startsWith('replayed'),
      id,
      { timeout: 15_000 },
    );
    await page.waitForFunction(
      () => document.querySelector('tr[data-route="orders/{id}"] td.handled')?.textContent === '1',
      undefined,
      { timeout: 15_000 },
    );
    expect(readSeen(env.SEEN_FILE).filter((s) => s.route === 'orders')).toHaveLength(1);

    // Scale the pool from the page: 2 → 3 workers, all ready.
    await page.locator('tr[data-pool="work"] button.scale-up').click();
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-pool="work"] td.count')?.textContent === '3 / 3' &&
        document.querySelectorAll('tr[data-worker^="work-"][data-state="ready"]').length === 3,
      undefined,
      { timeout: 30_000 },
    );

    // Purge another from the page (after its confirmation dialog): it leaves the list and the store.
    page.once('dialog', (dialog) => void dialog.accept());
    const last = page.locator('tr[data-dead-letter]').last();
    const purged = (await last.getAttribute('data-dead-letter')) as string;
    await last.locator('button.purge').click();
    await page.waitForFunction(
      (gone) =>
        document.querySelectorAll('tr[data-dead-letter]').length === 2 &&
        document.querySelector(`tr[data-dead-letter="${gone}"]`) === null,
      purged,
      { timeout: 15_000 },
    );

    // A bounded DOM: a storm of 1000 events (as a poison-message storm sends) leaves the newest 200 on the page.
    await page.evaluate(() => {
      const add = (window as unknown as { addEvent: (e: unknown) => void }).addEvent;
      for (let i = 0; i < 1000; i++)
        add({ type: 'message.dead_lettered', at: Date.now() + i, data: { topic: `s/${i}` } });
    });
    expect(await page.locator('#events .event').count()).toBe(200);
    // Newest first. (A server event that reaches the page after the storm, such as a late pool.scaled or the replayed
    // dead letter failing again, may sit above: only the storm's own rows, topics s/<i>, are looked at.)
    const storm = page.locator('#events .event', { hasText: /(^|\s)s\/\d+(\s|$)/ });
    expect(await storm.first().textContent()).toContain('s/999');
    expect(await page.evaluate(() => document.getElementsByTagName('*').length)).toBeLessThan(3000);

    // Every message of the load was handled: none lost, none twice, none unknown.
    const acked = await load.stop();
    await waitUntil(
      () =>
        check(
          acked,
          readSeen(env.SEEN_FILE).filter((s) => s.route === 'work'),
        ).lost.length === 0,
      30_000,
      'every acked load message handled',
    );
    const result = check(
      acked,
      readSeen(env.SEEN_FILE).filter((s) => s.route === 'work'),
    );
    expect(acked.length).toBeGreaterThan(0);
    expect(result).toEqual({ lost: [], duplicated: [], unexpected: [] });
    expect((await app.stop()).code).toBe(0);
  });
});
