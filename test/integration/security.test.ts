import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';
import { uniqueName } from '../helpers/mqtt.js';
import { makeCertificates } from '../helpers/certs.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const PASSWORD = 'Sup3r-s3cret-pw';
const TOKEN = 'health-t0ken-s3cret';
const run = promisify(execFile);

describe('security: authentication, TLS and secrets', () => {
  const f = useFixture({
    broker: false,
    routers: POOLS_ROUTERS,
    env: { MQTT_USERNAME: 'app', MQTT_PASSWORD: PASSWORD, POOL_A_COUNT: '1', POOL_B_COUNT: '1' },
  });
  let tlsPort: number;
  let certs: { ca: string; cert: string; key: string };

  beforeAll(async () => {
    certs = makeCertificates(f.dir);
    const passwords = join(f.dir, 'passwords');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwords, 'app', PASSWORD]);
    tlsPort = await freePort();
    await f.startBroker([
      'allow_anonymous false',
      `password_file ${passwords}`,
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${certs.ca}`,
      `certfile ${certs.cert}`,
      `keyfile ${certs.key}`,
    ]);
  });

  it('fails fast with RMQ_ERR_MQTT_AUTH on wrong credentials, without a reconnect storm', async () => {
    const clientId = uniqueName('wrong');
    const app = f.spawn(['start'], f.env({ MQTT_PASSWORD: 'not-the-password', MQTT_CLIENT_ID: clientId }));
    const exit = await app.exited;
    // It exits on the first refusal (awaited above: a retry loop would never exit), after one attempt (below).
    expect(exit.code).toBe(1);
    const output = app.lines.join('\n');
    expect(output).toContain('RMQ_ERR_MQTT_AUTH');
    expect(output).not.toContain('not-the-password');
    // Mosquitto logs a refused client as "<unknown>"; this is the only test that sends a wrong password.
    const refusals = readFileSync(f.broker.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.includes('not authorised'));
    expect(refusals).toHaveLength(1);
  });

  it('connects with the right credentials over TLS with a CA, workers included, and never shows a secret', async () => {
    const socket = f.path('control', '.sock');
    const httpPort = await freePort();
    const app = f.spawn(
      ['start'],
      f.env({
        MQTT_BROKER: 'mqtts://127.0.0.1',
        MQTT_PORT: String(tlsPort),
        MQTT_TLS_CA: certs.ca,
        ROUTEMQ_CONTROL_SOCKET: socket,
        HEALTH_HTTP_ENABLED: 'true',
        HEALTH_HTTP_PORT: String(httpPort),
        HEALTH_HTTP_TOKEN: TOKEN,
        LOG_LEVEL: 'debug',
      }),
    );
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect(app.logs().filter((l) => l['msg'] === 'worker started')).toHaveLength(2);

    const status = await run(process.execPath, [BIN, 'status', '--json', '--socket', socket]);
    const http = await (
      await fetch(`http://127.0.0.1:${httpPort}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    const argv = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    await app.stop();
    for (const secret of [PASSWORD, TOKEN]) {
      expect(app.lines.join('\n')).not.toContain(secret);
      expect(status.stdout + status.stderr).not.toContain(secret);
      expect(http).not.toContain(secret);
      expect(argv).not.toContain(secret);
    }
  });

  it('refuses MQTT_TLS_INSECURE outside NODE_ENV=development', async () => {
    const app = f.spawn(
      ['start'],
      f.env({
        MQTT_BROKER: 'mqtts://127.0.0.1',
        MQTT_PORT: String(tlsPort),
        MQTT_TLS_INSECURE: 'true',
        NODE_ENV: 'production',
      }),
    );
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.lines.join('\n')).toMatch(/RMQ_ERR_CONFIG_INVALID.*MQTT_TLS_INSECURE/s);
  });
});
