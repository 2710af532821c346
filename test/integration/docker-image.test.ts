import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';
import { sanitizeInstanceId } from '../../src/config/identity-defaults.js';
import { freePort } from '../helpers/broker.js';
import { buildSimulatedImage, simulatedUser } from '../helpers/docker-sim.js';
import type { SimulatedImage } from '../helpers/docker-sim.js';
import { useFixture } from '../helpers/fixture.js';
import { collect, publishMany, uniqueName } from '../helpers/mqtt.js';
import { spawnProcess } from '../helpers/spawn-app.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

// The Dockerfile, carried out without a Docker engine (test/helpers/docker-sim.ts): its files copied root-owned
// into a directory standing for the image, its RUN steps simulated, then its CMD started as an unprivileged user
// with the image's ENV, over a root file system it cannot write (as `docker run --read-only`) but for the VOLUME.

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('the Docker image (simulated)', () => {
  const f = useFixture();
  let image: SimulatedImage;

  beforeAll(() => {
    // mkdtemp makes a 0700 directory: the unprivileged user must be able to reach the image inside it.
    const dir = mkdtempSync(join(tmpdir(), 'routemq-image-'));
    chmodSync(dir, 0o755);
    f.defer(() => rmSync(dir, { recursive: true, force: true }));
    image = buildSimulatedImage(join(REPO, 'Dockerfile'), REPO, join(dir, 'rootfs'));
    // The parts of the base image the app may touch, root-owned and not writable: a read-only root file system.
    for (const path of ['/tmp', '/home/node']) mkdirSync(image.hostPath(path), { recursive: true, mode: 0o755 });
  });

  /** The container's environment: the image's ENV (volume paths mapped to the host) plus `extra`. */
  function containerEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
    const mapped = Object.fromEntries(
      Object.entries(image.env).map(([k, v]) => [
        k,
        image.volumes.some((vol) => v.startsWith(vol)) ? image.hostPath(v) : v,
      ]),
    );
    const env: Record<string, string | undefined> = {
      PATH: process.env['PATH'],
      HOME: image.hostPath('/home/node'),
      TMPDIR: image.hostPath('/tmp'),
      ...mapped,
      ...extra,
    };
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  }

  /** `argv` as the image's USER, in its WORKDIR; `node` is the host's node. */
  function asImageUser(argv: readonly string[]): [string, string[]] {
    const user = simulatedUser(image.user);
    const command = argv.map((a, i) => (i === 0 && a === 'node' ? process.execPath : a));
    return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...command]];
  }

  function start(extra: Record<string, string | undefined>): SpawnedApp {
    const [file, args] = asImageUser(image.cmd);
    const app = spawnProcess(file, args, { env: containerEnv(extra), cwd: image.hostPath(image.workdir) });
    f.defer(() => app.kill());
    return app;
  }

  it('runs as a non-root user on Node 26 (the current LTS), with its state directory on a volume', () => {
    expect(image.from).toMatch(/^node:26(-[a-z]+)*-slim$/);
    expect(image.user).not.toBe('root');
    expect(image.volumes).toContain(image.env['ROUTEMQ_STATE_DIR']);
    expect(image.env).toMatchObject({ HEALTH_HTTP_ENABLED: 'true', HEALTH_HTTP_HOST: '0.0.0.0' });
    expect(image.exposed).toContain(Number(image.env['HEALTH_HTTP_PORT']));
    const unknown = Object.keys(image.env).filter((n) => !(CONFIG_VARIABLES as readonly string[]).includes(n));
    expect(unknown).toEqual([]);
    expect(image.cmd).toEqual(['node', 'bin/routemq.js', 'start']);
  });

  it('starts as an unprivileged user over a read-only app directory, serves /ready and handles every message', async () => {
    const clientId = uniqueName('img');
    const port = await freePort();
    const app = start({
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(f.broker.port),
      MQTT_CLIENT_ID: clientId,
      MQTT_GROUP_NAME: uniqueName('g'),
      // The image's port, 8080, may be taken on this machine; inside a container it is free.
      HEALTH_HTTP_PORT: String(port),
    });
    const serving = await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 120_000);
    // The default instance id comes from the host name, so each container (a compose replica, a pod) has its own.
    expect(serving['clientId']).toMatch(
      new RegExp(`^${clientId}-${sanitizeInstanceId(hostname(), 57)}-[0-9a-f]{6}-main$`),
    );

    // The image's HEALTHCHECK, run as the container would.
    const [file, args] = asImageUser(image.healthcheck ?? []);
    await expect(run(file, args, { env: containerEnv({ HEALTH_HTTP_PORT: String(port) }) })).resolves.toBeDefined();

    const client = await f.connect();
    const alerts = await collect(client, 'alerts/#');
    const replies = await collect(client, 'devices/+/replies');
    const n = 20;
    // Telemetry runs in the pool's worker processes (bundled into the state directory); commands in the main one.
    await publishMany(client, n, (i) => ({ topic: `sensors/s${i}/telemetry`, payload: '{"value":50}' }));
    await publishMany(client, n, (i) => ({ topic: `devices/d${i}/commands/ping`, payload: '{}' }));
    await alerts.waitFor(n, 60_000);
    await replies.waitFor(n, 60_000);
    const ids = (messages: { topic: string }[]): string[] =>
      messages.map((m) => m.topic.split('/')[1] as string).sort();
    const expected = (p: string): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`).sort();
    expect(ids(alerts.messages)).toEqual(expected('s'));
    expect(ids(replies.messages)).toEqual(expected('d'));

    // What it wrote is in the state directory: the instance lock and the worker bundles.
    const stateDir = image.hostPath(image.env['ROUTEMQ_STATE_DIR'] as string);
    expect(readdirSync(stateDir).some((name) => name.endsWith('.lock'))).toBe(true);
    expect(existsSync(join(stateDir, 'build'))).toBe(true);
    expect(existsSync(join(stateDir, 'control.sock'))).toBe(true);
    expect(await app.stop(60_000)).toEqual({ code: 0, signal: null });
    expect(app.lines.join('\n')).not.toMatch(/EACCES|EROFS/);
  }, 240_000);

  it('refuses with RMQ_ERR_STATE_DIR_NOT_WRITABLE and exit code 1 when the state directory is not writable', async () => {
    // The default state directory, .routemq/ under the read-only /app.
    const app = start({
      ROUTEMQ_STATE_DIR: undefined,
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(f.broker.port),
      HEALTH_HTTP_PORT: String(await freePort()),
    });
    expect(await app.exited).toEqual({ code: 1, signal: null });
    const output = app.lines.join('\n');
    expect(output).toContain('RMQ_ERR_STATE_DIR_NOT_WRITABLE');
    expect(output).toContain(join(image.hostPath(image.workdir), '.routemq'));
    expect(output).not.toMatch(/^\s+at /m);
  }, 120_000);
});
