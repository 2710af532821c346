import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DoctorCheck } from '../../src/doctor/doctor-check.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const exec = promisify(execFile);

/**
 * Run `routemq doctor --json` with `env` on top of this process's (no control socket, a 5 s connect timeout), and
 * return its exit code and checks, whether it passed or not.
 */
export async function runDoctor(env: Record<string, string>): Promise<{ code: number; checks: DoctorCheck[] }> {
  try {
    const { stdout } = await exec(process.execPath, [BIN, 'doctor', '--json'], {
      env: { ...process.env, ROUTEMQ_CONTROL_SOCKET: 'none', MQTT_CONNECT_TIMEOUT_MS: '5000', ...env },
    });
    return { code: 0, checks: JSON.parse(stdout) as DoctorCheck[] };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, checks: JSON.parse(e.stdout) as DoctorCheck[] };
  }
}
