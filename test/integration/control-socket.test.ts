import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';
import { uniqueName } from '../helpers/mqtt.js';
import { useFixture } from '../helpers/fixture.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const DIRECT_ROUTERS = fileURLToPath(new URL('../fixtures/routers-direct', import.meta.url));
const run = promisify(execFile);

/** process.env without any RouteMQ or MQTT variable, so that a test states every one it relies on. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(ROUTEMQ_|MQTT_|REDIS_|ENABLE_REDIS|WORKER_)/.test(name)),
  );
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `routemq <args>` in `cwd` with exactly `env` (added to a clean environment); never rejects. */
async function cli(args: readonly string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...cleanEnv(), ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('control commands read only the control socket', () => {
  const f = useFixture();

  function appEnv(socket: string, routers = POOLS_ROUTERS): Record<string, string> {
    return {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(f.broker.port),
      MQTT_CLIENT_ID: uniqueName('ctls'),
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_INSTANCE_ID: uniqueName('i'),
      ROUTEMQ_ROUTERS_DIR: routers,
      ROUTEMQ_CONTROL_SOCKET: socket,
      SEEN_FILE: join(f.dir, 'seen.txt'),
      POOL_A_COUNT: '1',
      POOL_B_COUNT: '1',
    };
  }

  it('answers status, scale, worker restart, reload and stop with a bad unrelated variable in env or .env', async () => {
    const socket = join(f.dir, 'app.sock');
    const app = f.spawn(['start'], appEnv(socket));
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);

    // The socket from the environment; MQTT_PORT would fail the full config.
    const bad = { MQTT_PORT: 'banana', ROUTEMQ_CONCURRENCY: 'many', ROUTEMQ_CONTROL_SOCKET: socket };
    const status = await cli(['status', '--json'], bad, f.dir);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as HealthSnapshot).ready).toBe(true);

    // The socket from ./.env (relative to the working directory), next to the same bad variable.
    const cwd = join(f.dir, 'project');
    mkdirSync(cwd);
    writeFileSync(join(cwd, '.env'), 'MQTT_PORT=banana\nROUTEMQ_CONTROL_SOCKET=../app.sock\n');
    expect(await cli(['status'], {}, cwd)).toMatchObject({ code: 0, stdout: expect.stringMatching(/ready: yes/) });

    expect(await cli(['scale', 'pa-any', '2'], bad, f.dir)).toMatchObject({
      code: 0,
      stdout: 'pool pa-any scaled to 2\n',
    });
    expect(await cli(['worker', 'restart', 'pb-any-0'], {}, cwd)).toMatchObject({
      code: 0,
      stdout: 'worker pb-any-0 restarted\n',
    });
    expect(await cli(['reload'], bad, f.dir)).toMatchObject({
      code: 0,
      stdout: 'reloaded main process: 0 route(s)\nreloaded pools (rolling): pa-any, pb-any\n',
    });
    const after = JSON.parse((await cli(['status', '--json'], bad, f.dir)).stdout) as HealthSnapshot;
    expect(after.pools.map((p) => [p.name, p.ready])).toEqual([
      ['pa-any', 2],
      ['pb-any', 1],
    ]);

    // Unknown pool and worker: their own codes, as one line.
    const noPool = await cli(['scale', 'nope', '2'], bad, f.dir);
    expect(noPool.code).toBe(1);
    expect(noPool.stderr).toMatch(/^routemq: RMQ_ERR_POOL_NOT_FOUND: No pool 'nope'; the pools are: pa-any, pb-any\n$/);
    const noWorker = await cli(['worker', 'restart', 'nope-0'], bad, f.dir);
    expect(noWorker.code).toBe(1);
    expect(noWorker.stderr).toMatch(/^routemq: RMQ_ERR_WORKER_NOT_FOUND: No worker 'nope-0'/);

    expect(await cli(['stop'], bad, f.dir)).toMatchObject({ code: 0, stdout: 'stopping\n' });
    expect((await app.exited).code).toBe(0);

    // Nothing listens any more: a clean coded error, not a stack and not a config error.
    const down = await cli(['status'], bad, f.dir);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr).toMatch(
      new RegExp(`^routemq: RMQ_ERR_CONTROL_UNREACHABLE: No running routemq instance answers on ${socket} `),
    );
    expect(down.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 180_000);

  it('refuses a second instance on the same socket with RMQ_ERR_CONTROL_SOCKET_IN_USE', async () => {
    const socket = join(f.dir, 'shared.sock');
    const first = f.spawn(['start'], appEnv(socket, DIRECT_ROUTERS));
    await first.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const second = f.spawn(['start'], appEnv(socket, DIRECT_ROUTERS));
    expect((await second.exited).code).toBe(1);
    const errors = second.lines.filter((line) => line.startsWith('routemq: '));
    expect(errors).toEqual([
      `routemq: RMQ_ERR_CONTROL_SOCKET_IN_USE: Another routemq instance is listening on ${socket}; stop it, or ` +
        'give this one its own ROUTEMQ_CONTROL_SOCKET (or none)',
    ]);
    // The first one still answers.
    expect(await cli(['status'], { ROUTEMQ_CONTROL_SOCKET: socket }, f.dir)).toMatchObject({ code: 0 });
    expect((await first.stop()).code).toBe(0);
  });

  it.each([
    ['the instance lock', '.routemq', '.routemq/control.sock', POOLS_ROUTERS],
    ['the control socket', 'sock', 'sock/control.sock', DIRECT_ROUTERS],
  ])(
    'refuses to start with RMQ_ERR_STATE_DIR_NOT_WRITABLE naming the directory of %s',
    async (what, blocked, socket, routers) => {
      const cwd = mkdtempSync(join(f.dir, 'ro-'));
      writeFileSync(join(cwd, blocked), 'a file where a directory should be');
      const expectedDir = (): string => join(cwd, blocked);
      const app = f.spawn(['start'], { ...appEnv(socket, routers), ROUTEMQ_STATE_DIR: '.routemq' }, cwd);
      expect((await app.exited).code).toBe(1);
      const errors = app.lines.filter((line) => line.startsWith('routemq: '));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(
        `routemq: RMQ_ERR_STATE_DIR_NOT_WRITABLE: Cannot write ${what} in ${expectedDir()} (`,
      );
      expect(errors[0]).toMatch(/ \((ENOTDIR|EEXIST): a file is in the way\)\. /);
      expect(app.lines.some((line) => /^\s+at /.test(line))).toBe(false);
    },
  );
});
