import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const run = promisify(execFile);

describe('routemq control commands against a running instance', () => {
  const f = useFixture({ routers: POOLS_ROUTERS });

  it('reports status, scales a pool, restarts a worker, reloads on SIGHUP, and stops', async () => {
    const socket = f.path('control', '.sock');
    const env = f.env({ ROUTEMQ_CONTROL_SOCKET: socket, POOL_A_COUNT: '1', POOL_B_COUNT: '1' });
    const app = await f.serve(env);
    const cli = async (...args: string[]): Promise<string> =>
      (await run(process.execPath, [BIN, ...args, '--socket', socket], { env: { ...process.env, ...env } })).stdout;
    const status = async (): Promise<HealthSnapshot> => JSON.parse(await cli('status', '--json')) as HealthSnapshot;

    expect(await cli('status')).toMatch(/ready: yes/);
    expect((await status()).pools.map((p) => [p.name, p.ready])).toEqual([
      ['pa-any', 1],
      ['pb-any', 1],
    ]);

    await cli('scale', 'pa-any', '2');
    expect((await status()).pools.find((p) => p.name === 'pa-any')?.ready).toBe(2);

    const before = (await status()).workers.find((w) => w.workerId === 'pb-any-0')?.pid;
    await cli('worker', 'restart', 'pb-any-0');
    const after = (await status()).workers.find((w) => w.workerId === 'pb-any-0');
    expect(after?.status).toBe('ready');
    expect(after?.pid).not.toBe(before);

    const pidsBeforeReload = (await status()).workers.map((w) => w.pid);
    app.child.kill('SIGHUP');
    await app.waitForLog((l) => l['msg'] === 'rolling reload done', 30_000);
    const reloaded = await status();
    expect(reloaded.ready).toBe(true);
    expect(reloaded.workers.map((w) => w.pid).filter((pid) => pidsBeforeReload?.includes(pid))).toEqual([]);

    await expect(cli('scale', 'nope', '2')).rejects.toMatchObject({
      stderr: expect.stringContaining('RMQ_ERR_POOL_NOT_FOUND'),
    });
    // A count that is not a whole number is refused by the CLI; one over WORKER_MAX_COUNT (default 10) by the
    // instance, before it starts a worker.
    await expect(cli('scale', 'pa-any', 'abc')).rejects.toMatchObject({
      stderr: expect.stringContaining("RMQ_ERR_ROUTE_OPTION_INVALID: A worker count must be an integer ≥ 1, got 'abc'"),
    });
    await expect(cli('scale', 'pa-any', '100000')).rejects.toMatchObject({
      stderr: expect.stringMatching(/RMQ_ERR_ROUTE_OPTION_INVALID: Pool pa-any .*over WORKER_MAX_COUNT \(10\)/),
    });
    expect((await status()).pools.find((p) => p.name === 'pa-any')?.ready).toBe(2);

    expect(await cli('stop')).toContain('stopping');
    const exit = await app.exited;
    expect(exit.code).toBe(0);
    await expect(cli('status')).rejects.toMatchObject({
      stderr: expect.stringContaining('RMQ_ERR_CONTROL_UNREACHABLE'),
    });
    // Each CLI call starts a process (~3 s on a loaded machine) and a reload now also builds the main-process bundle.
  }, 120_000);
});
