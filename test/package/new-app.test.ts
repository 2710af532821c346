import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify, stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { collect, uniqueName } from '../helpers/mqtt.js';
import { packRouteMQ, writeAppLockfile } from '../helpers/pack.js';
import { spawnProcess } from '../helpers/spawn-app.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const run = promisify(execFile);

/** Run a command; resolve with its exit code and output (never rejects, so a failure shows its output). */
async function sh(
  file: string,
  args: string[],
  cwd: string,
  env = process.env,
): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stripVTControlCharacters(stdout + stderr) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: stripVTControlCharacters(`${e.stdout}${e.stderr}`) };
  }
}

describe('routemq new', () => {
  const f = useFixture();

  it(
    'writes an app that installs offline from the packed tarball, passes its tests and tsc, and handles a message',
    async () => {
      // Outside the repository, so nothing resolves from the repo's node_modules.
      const tmp = mkdtempSync(join(tmpdir(), 'routemq-new-'));
      f.defer(() => rmSync(tmp, { recursive: true, force: true }));
      // The tarball test/package/install.test.ts installs too (cached by content: one pack per run).
      const packed = await packRouteMQ();
      const tarball = join(tmp, basename(packed.tarball));
      copyFileSync(packed.tarball, tarball);
      const appDir = join(tmp, 'my-app');
      const spec = `file:../${basename(tarball)}`;
      const created = await sh(process.execPath, [BIN, 'new', 'my-app', '--routemq', spec], tmp);
      expect(created.code, created.out).toBe(0);
      expect(readFileSync(join(appDir, '.gitignore'), 'utf8')).toContain('.routemq/');
      const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest).toMatchObject({ name: 'my-app', dependencies: { routemq: spec } });

      writeAppLockfile(appDir, { ...packed, tarball });
      const install = await sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], appDir);
      expect(install.code, install.out).toBe(0);

      const test = await sh('npm', ['test'], appDir, { ...process.env, CI: 'true' });
      expect(test.code, test.out).toBe(0);
      expect(test.out).toMatch(/Tests\s+4 passed/);
      const tsc = await sh('npx', ['tsc', '--noEmit'], appDir);
      expect(tsc.code, tsc.out).toBe(0);

      // The installed package ships the templates: its own `routemq new` writes the same app.
      const again = await sh(
        join(appDir, 'node_modules/.bin/routemq'),
        ['new', join(tmp, 'again'), '--name', 'my-app', '--routemq', spec],
        tmp,
      );
      expect(again.code, again.out).toBe(0);
      for (const file of [
        'package.json',
        'routers/telemetry.ts',
        'test/routes.test.ts',
        'Dockerfile',
        'compose.yaml',
      ]) {
        expect(readFileSync(join(tmp, 'again', file), 'utf8'), file).toBe(readFileSync(join(appDir, file), 'utf8'));
      }

      const app = spawnProcess('npm', ['start'], {
        env: {
          ...process.env,
          MQTT_BROKER: '127.0.0.1',
          MQTT_PORT: String(f.broker.port),
          MQTT_GROUP_NAME: uniqueName('g'),
          LOG_PRETTY: 'false',
          NODE_ENV: 'test',
        },
        cwd: appDir,
      });
      f.defer(() => app.kill());
      await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 90_000);
      const client = await f.connect();
      const alerts = await collect(client, 'alerts/+');
      const replies = await collect(client, 'devices/+/replies');
      await client.publishAsync('sensors/s1/telemetry', JSON.stringify({ value: 45 }), { qos: 1 });
      await client.publishAsync('devices/d1/commands/ping', '{}', { qos: 1 });
      await alerts.waitFor(1, 30_000);
      await replies.waitFor(1, 30_000);
      expect(alerts.messages.map((m) => [m.topic, JSON.parse(m.payload.toString()) as unknown])).toEqual([
        ['alerts/s1', { sensorId: 's1', celsius: 45 }],
      ]);
      expect(replies.messages.map((m) => [m.topic, JSON.parse(m.payload.toString()) as unknown])).toEqual([
        ['devices/d1/replies', { command: 'ping', ok: true }],
      ]);
      await app.kill();
    },
    5 * 60_000,
  );

  it('refuses a directory that is not empty, and writes nothing', async () => {
    const dir = f.mkdir('taken');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const out = await sh(process.execPath, [BIN, 'new', dir], f.dir);
    expect(out.code).toBe(1);
    expect(out.out).toMatch(/routemq: RMQ_ERR_NEW_DIR_NOT_EMPTY: .* is not empty/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });
});
