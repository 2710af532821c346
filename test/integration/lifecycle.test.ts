import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isPortOpen } from '../../src/dev/mosquitto.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/slow/routers', import.meta.url));

describe('routemq start lifecycle', () => {
  const f = useFixture({ routers: ROUTERS });

  it('finishes and acks the handler in flight on SIGTERM, then exits 0', async () => {
    const env = f.env();
    const app = await f.serve(env);
    const publisher = await f.connect();
    await publisher.publishAsync('slow/1500/in-flight', '{}', { qos: 1 });
    await app.waitForLog((l) => l['msg'] === 'slow handler started');
    const exit = await app.stop();
    expect(exit.code).toBe(0);
    expect(readLines(env.SEEN_FILE)).toEqual(['in-flight']);

    // Acked before exit: a restart under the same client id does not get it again.
    const again = await f.serve(env);
    await new Promise((r) => setTimeout(r, 1000));
    expect(readLines(env.SEEN_FILE)).toEqual(['in-flight']);
    expect((await again.stop()).code).toBe(0);
  });

  it('forces the exit on a second signal while a handler hangs', async () => {
    const app = await f.serve(f.env());
    const publisher = await f.connect();
    await publisher.publishAsync('slow/60000/hangs', '{}', { qos: 1 });
    await app.waitForLog((l) => l['msg'] === 'slow handler started');
    app.child.kill('SIGTERM');
    await app.waitForLog((l) => String(l['msg']).startsWith('shutting down gracefully'));
    app.child.kill('SIGTERM');
    const exit = await app.exited;
    expect(exit.code).toBe(130);
  });

  it('keeps the connection alive while a handler runs longer than 1.5 × keepalive', async () => {
    const env = f.env({ MQTT_KEEPALIVE_S: '5' });
    const app = await f.serve(env);
    const publisher = await f.connect();
    await publisher.publishAsync('slow/8500/long', '{}', { qos: 1 });
    await publisher.publishAsync('slow/0/quick', '{}', { qos: 1 });
    // The quick message is not stuck behind the slow one.
    await waitUntil(() => readLines(env.SEEN_FILE).includes('quick'), 5_000, 'the quick message');
    await waitUntil(() => readLines(env.SEEN_FILE).includes('long'), 15_000, 'the long message');
    expect(app.logs().filter((l) => l['msg'] === 'MQTT connection lost')).toEqual([]);
    // The main connection connected once (sessions left by this file's earlier apps are adopted on their own
    // connections, logged with component 'adoption').
    const connects = app.logs().filter((l) => l['msg'] === 'MQTT connected' && l['component'] !== 'adoption');
    expect(connects).toHaveLength(1);
    expect((await app.stop()).code).toBe(0);
  });

  it('fails with RMQ_ERR_BROKER_UNREACHABLE and the commands to get a broker when mosquitto is not installed', async () => {
    const port = await freePort();
    const app = f.spawn(
      ['start', '--routers', ROUTERS],
      { MQTT_PORT: String(port), PATH: dirname(process.execPath), MQTT_BROKER: '' },
      f.mkdir('cwd'),
    );
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    const output = app.lines.join('\n');
    expect(output).toContain('RMQ_ERR_BROKER_UNREACHABLE');
    expect(output).toContain('apt-get install -y mosquitto');
  });

  it('starts a development broker when none answers and MQTT_BROKER is unset, and stops it on exit', async () => {
    const port = await freePort();
    const cwd = f.mkdir('dev');
    const app = f.spawn(
      ['start', '--routers', ROUTERS],
      { MQTT_PORT: String(port), MQTT_BROKER: '', ROUTEMQ_STATE_DIR: '.routemq' },
      cwd,
    );
    const warning = await app.waitForLog((l) => String(l['msg']).includes('DEVELOPMENT BROKER'));
    expect(warning['level']).toBe(40);
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect(await isPortOpen('127.0.0.1', port)).toBe(true);
    expect((await app.stop()).code).toBe(0);
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
    expect(existsSync(join(cwd, '.routemq', 'mosquitto', 'mosquitto.conf'))).toBe(true);
  });

  it('exits on a Ctrl-C to the whole process group while the development broker exits on its own SIGINT', async () => {
    // A terminal's Ctrl-C: the development broker gets SIGINT at the same moment as RouteMQ, so the broker goes
    // away while RouteMQ says goodbye on it. Once the session registry's last publish stayed unacked, mqtt.js
    // reconnected every second forever and the process never exited. Whatever outlives the test is killed with
    // the process group (the broker is in it) by the fixture.
    const port = await freePort();
    const app = f.spawn(
      ['start', '--routers', ROUTERS],
      { MQTT_PORT: String(port), MQTT_BROKER: '', ROUTEMQ_STATE_DIR: '.routemq' },
      f.mkdir('ctrl-c'),
    );
    await app.waitForLog((l) => String(l['msg']).includes('DEVELOPMENT BROKER'));
    // The start-up table: `start()` has returned, the CLI only waits for signals now.
    await waitUntil(() => app.lines.some((l) => l.startsWith('RouteMQ serving ')), 20_000, 'the start-up table');
    const pid = app.child.pid;
    if (pid === undefined) throw new Error('routemq start has no pid');
    process.kill(-pid, 'SIGINT');
    await waitUntil(
      () => app.child.exitCode !== null || app.child.signalCode !== null,
      45_000,
      'routemq start to exit after SIGINT to its process group',
    ).catch((err: Error) => {
      throw new Error(`${err.message}. Output:\n${app.lines.slice(-10).join('\n')}`);
    });
    expect((await app.exited).code).toBe(0);
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
  });
});

function readLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}
