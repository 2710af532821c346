/// <reference lib="dom" />
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));

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

    const browser = await chromium.launch({
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
    f.defer(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-worker]').length === 4, undefined, {
      timeout: 15_000,
    });
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
