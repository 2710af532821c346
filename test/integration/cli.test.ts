import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const run = promisify(execFile);

describe('the CLI and the sample app', () => {
  const f = useFixture();

  it('prints the route table with subscription, qos, group, workers and source file', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'routes', '--routers', POOLS_ROUTERS], {
      env: { ...process.env, MQTT_GROUP_NAME: 'grp', POOL_A_COUNT: '3' },
    });
    expect(stdout).toMatch(/PATTERN\s+SUBSCRIPTION\s+QOS\s+SHARED\s+GROUP\s+WORKERS\s+FILE/);
    expect(stdout).toMatch(
      /pa\/\{id\}\s+\$share\/grp\/pa\/\+\s+1\s+yes\s+grp\s+3\s+test\/fixtures\/apps\/pools\/routers\/pools\.ts/,
    );
    const { stdout: json } = await run(process.execPath, [BIN, 'routes', '--json', '--routers', POOLS_ROUTERS], {
      env: { ...process.env, MQTT_GROUP_NAME: 'grp', POOL_A_COUNT: '3' },
    });
    const rows = JSON.parse(json) as Record<string, unknown>[];
    expect(rows.map((r) => r['pattern'])).toEqual(['pa/{id}', 'pb/{id}']);
    // Typed values: numbers, a boolean, null where a column does not apply (not the table's display strings).
    expect(rows[0]).toEqual({
      pattern: 'pa/{id}',
      subscription: '$share/grp/pa/+',
      qos: 1,
      shared: true,
      group: 'grp',
      workers: 3,
      file: 'test/fixtures/apps/pools/routers/pools.ts',
    });
  });

  it('prints its version (--version, -V) and its help', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const { stdout } = await run(process.execPath, [BIN, flag]);
      expect(stdout).toBe(`${version}\n`);
    }
    const { stdout: help } = await run(process.execPath, [BIN, '--help']);
    expect(help).toMatch(/-V, --version\s+print the version/);
    for (const command of ['start', 'routes', 'status', 'doctor', 'dlq', 'sessions']) {
      expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('fails start-up with the file and the cause when a route file throws', async () => {
    const app = f.spawn(
      ['start'],
      f.env({ ROUTEMQ_ROUTERS_DIR: fileURLToPath(new URL('../fixtures/routers-throwing', import.meta.url)) }),
    );
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.lines.join('\n')).toMatch(/RMQ_ERR_ROUTE_FILE_INVALID: Route file .*routers-throwing/);
  });

  it('refuses to start a pool over WORKER_MAX_COUNT, before starting any worker', async () => {
    const app = f.spawn(
      ['start'],
      f.env({ ROUTEMQ_ROUTERS_DIR: POOLS_ROUTERS, POOL_A_COUNT: '3', WORKER_MAX_COUNT: '2' }),
    );
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    const output = app.lines.join('\n');
    expect(output).toMatch(/RMQ_ERR_ROUTE_OPTION_INVALID: Pool pa-any .*3 workers is over WORKER_MAX_COUNT \(2\)/);
    expect(output).not.toContain('worker started');
  });

  it('says that route files are ES modules when one outside a "type": "module" package fails to load', async () => {
    // The fixture's temp dir has no package.json above it, so Node takes a .ts file there for CommonJS.
    const dir = f.mkdir('cjs-routers');
    writeFileSync(
      `${dir}/x.ts`,
      "export default (r: { on(p: string, h: () => void): void }) => r.on('a/b', () => {});\n",
    );
    const app = f.spawn(['routes', '--routers', dir], f.env());
    expect((await app.exited).code).toBe(1);
    expect(app.lines.join('\n')).toMatch(/RMQ_ERR_ROUTE_FILE_INVALID: .*"type": "module"/);
  });

  it('runs the sample app (npm start) and shows its traffic in the logs', async () => {
    // A stopped app's persistent sessions stay in their share group (by design): each env has its own group.
    // The sample app logs each message at debug (one line at info per message would flood a real deployment).
    const app = f.spawn(['start', '--traffic', 'app/sample-traffic.ts'], f.env({ LOG_LEVEL: 'debug' }), ROOT);
    await app.waitForLog((l) => l['msg'] === 'handled' && l['route'] === 'sensors/{sensorId}/telemetry', 20_000);
    await app.waitForLog((l) => l['msg'] === 'command received', 20_000);
    await app.waitForLog((l) => l['code'] === 'RMQ_ERR_PAYLOAD_SCHEMA', 20_000);
    const workers = app.logs().filter((l) => l['msg'] === 'worker started');
    expect(workers).toHaveLength(2);
    expect((await app.stop()).code).toBe(0);
  });

  it('works on MQTT 3.1.1: handles, dead-letters and redelivers like v5', async () => {
    const app = f.spawn(
      ['start', '--traffic', 'app/sample-traffic.ts'],
      f.env({ MQTT_PROTOCOL_VERSION: '4', LOG_LEVEL: 'debug' }),
      ROOT,
    );
    await app.waitForLog((l) => l['msg'] === 'handled' && l['route'] === 'sensors/{sensorId}/telemetry', 20_000);
    await app.waitForLog((l) => l['code'] === 'RMQ_ERR_PAYLOAD_SCHEMA' && l['msg'] !== undefined, 20_000);
    expect(app.logs().filter((l) => l['code'] === 'RMQ_ERR_DLQ_PUBLISH_FAILED')).toEqual([]);
    expect((await app.stop()).code).toBe(0);
  });
});
