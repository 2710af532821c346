import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../src/doctor/doctor-check.js';
import type { TestBroker } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const exec = promisify(execFile);

async function doctor(port: number, version: number): Promise<{ code: number; checks: DoctorCheck[] }> {
  const args = [BIN, 'doctor', '--json', '--routers', POOLS_ROUTERS, '--broker', '127.0.0.1', '--port', String(port)];
  const env = { ...process.env, MQTT_CONNECT_TIMEOUT_MS: '2000', MQTT_PROTOCOL_VERSION: String(version) };
  try {
    const { stdout } = await exec(process.execPath, args, { env });
    return { code: 0, checks: JSON.parse(stdout) as DoctorCheck[] };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, checks: JSON.parse(e.stdout) as DoctorCheck[] };
  }
}

describe('routemq doctor: dead-letter topics', () => {
  const f = useFixture({ broker: false });
  let good: TestBroker;
  let readOnly: TestBroker;

  beforeAll(async () => {
    const acl = f.path('acl');
    // The routes' topics and the doctor's own are fine; the dead-letter topics are read only.
    writeFileSync(
      acl,
      'topic readwrite pa/#\ntopic readwrite pb/#\ntopic readwrite routemq/doctor/#\ntopic read routemq/dlq/#\n',
    );
    [good, readOnly] = await Promise.all([f.startBroker(), f.startBroker([`acl_file ${acl}`])]);
  });

  it.each([4, 5])('passes each dead-letter topic it can write and read back (MQTT %s)', async (version) => {
    const { checks } = await doctor(good.port, version);
    const dlq = checks.filter((c) => c.check.startsWith('dead-letter topic '));
    expect(dlq.map((c) => [c.check, c.status])).toEqual([
      ['dead-letter topic routemq/dlq/pa/{id}', 'pass'],
      ['dead-letter topic routemq/dlq/pb/{id}', 'pass'],
    ]);
  });

  it.each([4, 5])('fails a dead-letter topic the ACL does not let it write, and exits 1 (MQTT %s)', async (version) => {
    const { code, checks } = await doctor(readOnly.port, version);
    expect(code).toBe(1);
    const dlq = checks.filter((c) => c.check.startsWith('dead-letter topic '));
    expect(dlq).toHaveLength(2);
    for (const c of dlq) {
      expect(c.status).toBe('fail');
      expect(c.fix).toContain('read and write');
    }
    expect(dlq[0]?.detail).toMatch(version === 4 ? /never came back/ : /refused|never came back/);
  });
});
