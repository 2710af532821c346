import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadConfigSubset } from '../../src/config/load-config.js';
import { ErrorCodes } from '../../src/errors.js';

describe('loadConfigSubset: only the variables a command needs', () => {
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'routemq-subset-'));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  const broker = ['MQTT_BROKER', 'MQTT_PORT', 'MQTT_PASSWORD', 'MQTT_GROUP_NAME', 'ROUTEMQ_ORPHAN_GRACE_S'] as const;

  it('ignores other variables, even invalid ones, and gives them their defaults', () => {
    const env = {
      MQTT_PORT: '1999',
      ROUTEMQ_CONCURRENCY: 'banana',
      HEALTH_HTTP_PORT: '-3',
      ROUTEMQ_ORPHAN_GRACE_S: '7',
    };
    expect(() => loadConfig({ cwd, env, envFile: false })).toThrow(/ROUTEMQ_CONCURRENCY/);
    const config = loadConfigSubset(broker, { cwd, env, envFile: false });
    expect(config.mqtt.port).toBe(1999);
    expect(config.routemq.orphanGraceS).toBe(7);
    expect(config.routemq.concurrency).toBe(loadConfig({ cwd, env: {}, envFile: false }).routemq.concurrency);
    expect(Object.isFrozen(config.mqtt)).toBe(true);
  });

  it('validates the named variables, and the rules between them, naming only those', () => {
    const env = { MQTT_PORT: 'banana', ROUTEMQ_CONCURRENCY: 'banana' };
    expect(() => loadConfigSubset(broker, { cwd, env, envFile: false })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.CONFIG_INVALID,
        message: expect.not.stringContaining('ROUTEMQ_CONCURRENCY') as unknown,
      }),
    );
    const conflict = { MQTT_BROKER: 'mqtt://broker:1884', MQTT_PORT: '1885' };
    expect(() => loadConfigSubset(broker, { cwd, env: conflict, envFile: false })).toThrow(/MQTT_PORT: conflicts/);
  });

  it('reads a secret from its *_FILE variant, and .env under the environment', () => {
    const secret = join(cwd, 'password.txt');
    writeFileSync(secret, 's3cret\n');
    const envFile = join(cwd, 'subset.env');
    writeFileSync(envFile, 'MQTT_GROUP_NAME=from-file\nMQTT_PORT=2000\n');
    const config = loadConfigSubset(broker, {
      cwd,
      env: { MQTT_PASSWORD_FILE: secret, MQTT_PORT: '2001' },
      envFile,
    });
    expect(config.mqtt.password?.reveal()).toBe('s3cret');
    expect(config.mqtt.groupName).toBe('from-file');
    expect(config.mqtt.port).toBe(2001);
  });
});
