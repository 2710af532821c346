import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../src/doctor/doctor-check.js';
import { freePort } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const exec = promisify(execFile);

async function doctor(
  port: number,
  env: Record<string, string> = {},
): Promise<{ code: number; checks: DoctorCheck[] }> {
  const args = [BIN, 'doctor', '--json', '--routers', POOLS_ROUTERS, '--broker', '127.0.0.1', '--port', String(port)];
  try {
    const { stdout } = await exec(process.execPath, args, {
      env: { ...process.env, MQTT_CONNECT_TIMEOUT_MS: '2000', ...env },
    });
    return { code: 0, checks: JSON.parse(stdout) as DoctorCheck[] };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, checks: JSON.parse(e.stdout) as DoctorCheck[] };
  }
}

describe('routemq doctor', () => {
  const f = useFixture({ broker: false, routers: POOLS_ROUTERS, redis: true });
  let good: TestBroker;
  let denying: TestBroker;

  beforeAll(async () => {
    const acl = join(f.dir, 'acl');
    // Anonymous clients may use pa/# and the doctor's own topics, but not pb/#: a worker there would eat messages.
    writeFileSync(acl, 'topic readwrite pa/#\ntopic readwrite routemq/#\ntopic read $SYS/#\n');
    good = await f.startBroker();
    denying = await f.startBroker([`acl_file ${acl}`]);
  });

  it('passes against a good Mosquitto', async () => {
    const { code, checks } = await doctor(good.port);
    expect(code).toBe(0);
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(checks.find((c) => c.check === '$share load balancing')?.status).toBe('pass');
    expect(checks.find((c) => c.check === 'broker identity')?.detail).toMatch(/mosquitto version 2/);
    expect(checks.find((c) => c.check === 'client-id clashes')?.status).toBe('pass');
    expect(checks.filter((c) => c.check.startsWith('read ')).map((c) => [c.check, c.status])).toEqual([
      ['read pa/{id}', 'pass'],
      ['read pb/{id}', 'pass'],
    ]);
  });

  it('fails the route whose topic the ACL does not let this identity read, with the fix', async () => {
    const { code, checks } = await doctor(denying.port);
    expect(code).toBe(1);
    expect(checks.find((c) => c.check === 'read pa/{id}')?.status).toBe('pass');
    const denied = checks.find((c) => c.check === 'read pb/{id}');
    expect(denied?.status).toBe('fail');
    expect(denied?.fix).toContain('read access to pb/+');
  });

  it('finds the instance id live here (control socket) or on another host (Redis heartbeats)', async () => {
    const socket = f.path('control', '.sock');
    const prefix = f.prefix('rmqdoc');
    const env = {
      ROUTEMQ_INSTANCE_ID: 'doc-host',
      ROUTEMQ_CONTROL_SOCKET: socket,
      ENABLE_REDIS: 'true',
      REDIS_HOST: '127.0.0.1',
      ROUTEMQ_REDIS_PREFIX: prefix,
    };
    const clash = async (): Promise<DoctorCheck | undefined> =>
      (await doctor(good.port, env)).checks.find((c) => c.check === 'client-id clashes');
    expect((await clash())?.status).toBe('pass');
    expect((await clash())?.detail).toContain('nor on other hosts');

    // The app's group is the default one, as the doctor's (the doctor gets no MQTT_GROUP_NAME either).
    const app = await f.serve(f.env({ ...env, MQTT_GROUP_NAME: undefined, POOL_A_COUNT: '1', POOL_B_COUNT: '1' }));
    expect((await clash())?.status).toBe('warn');
    expect((await app.stop()).code).toBe(0);

    // Another host's instance with the same id, as its health mirror writes it.
    const beat = JSON.stringify({ pid: 1, status: 'ready', host: 'other-host', at: Date.now() });
    await f.redis.set(`${prefix}heartbeat:doc-host:main`, beat, 'PX', 30_000);
    const { code, checks } = await doctor(good.port, env);
    expect(code).toBe(1);
    expect(checks.find((c) => c.check === 'client-id clashes')).toMatchObject({ status: 'fail' });
    expect(checks.find((c) => c.check === 'client-id clashes')?.detail).toContain('live on other-host');
  }, 60_000);

  it('fails with the fix when no broker runs', async () => {
    const { code, checks } = await doctor(await freePort());
    expect(code).toBe(1);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ check: 'connect and authenticate', status: 'fail' });
    expect(checks[0]?.fix).toContain('MQTT_BROKER');
  });
});
