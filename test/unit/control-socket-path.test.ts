import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadControlSocketPath } from '../../src/config/load-config.js';
import { ErrorCodes } from '../../src/errors.js';

describe('the control socket path, read on its own', () => {
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'routemq-sock-'));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('defaults to .routemq/control.sock in the working directory, as the full config does', () => {
    const path = loadControlSocketPath({ cwd, env: {}, envFile: false });
    expect(path).toBe(join(cwd, '.routemq', 'control.sock'));
    expect(path).toBe(loadConfig({ cwd, env: {}, envFile: false }).routemq.controlSocket);
  });

  it('ignores unrelated variables, even invalid ones', () => {
    const env = { MQTT_PORT: 'banana', ROUTEMQ_CONCURRENCY: '-1', ROUTEMQ_CONTROL_SOCKET: 'run/ctl.sock' };
    expect(() => loadConfig({ cwd, env, envFile: false })).toThrow(/MQTT_PORT/);
    expect(loadControlSocketPath({ cwd, env, envFile: false })).toBe(join(cwd, 'run', 'ctl.sock'));
  });

  it('reads .env, and the environment wins over it', () => {
    const envFile = join(cwd, 'ctl.env');
    writeFileSync(envFile, 'MQTT_PORT=banana\nROUTEMQ_CONTROL_SOCKET=from-file.sock\n');
    expect(loadControlSocketPath({ cwd, env: {}, envFile })).toBe(join(cwd, 'from-file.sock'));
    expect(loadControlSocketPath({ cwd, env: { ROUTEMQ_CONTROL_SOCKET: '/srv/ctl.sock' }, envFile })).toBe(
      '/srv/ctl.sock',
    );
  });

  it("gives undefined for 'none'", () => {
    expect(loadControlSocketPath({ cwd, env: { ROUTEMQ_CONTROL_SOCKET: 'none' }, envFile: false })).toBeUndefined();
  });

  it('refuses an invalid ROUTEMQ_CONTROL_SOCKET, naming only that variable', () => {
    const env = { MQTT_PORT: 'banana', ROUTEMQ_CONTROL_SOCKET: 'a\u0000b' };
    expect(() => loadControlSocketPath({ cwd, env, envFile: false })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.CONFIG_INVALID,
        message: expect.not.stringContaining('MQTT_PORT') as unknown,
      }),
    );
    expect(() => loadControlSocketPath({ cwd, env, envFile: false })).toThrow(/ROUTEMQ_CONTROL_SOCKET/);
  });

  it('refuses an env file that was named but does not exist', () => {
    expect(() => loadControlSocketPath({ cwd, env: {}, envFile: 'missing.env' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID, message: expect.stringContaining('missing.env') }),
    );
  });
});
