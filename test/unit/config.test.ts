import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRouteMQError } from '../../src/errors.js';
import type { RouteMQError } from '../../src/errors.js';
import { describeConfig, loadConfig } from '../../src/config/load-config.js';
import type { LoadConfigOptions } from '../../src/config/raw-values.js';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES, configSchema, sanitizeInstanceId } from '../../src/config/schema.js';
import { defaultAppName, defaultInstanceId } from '../../src/config/identity-defaults.js';
import type { ResolvedConfig } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-config-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

function load(env: Record<string, string | undefined> = {}, options: LoadConfigOptions = {}): ResolvedConfig {
  return loadConfig({ env, envFile: false, cwd: tempDir(), ...options });
}

function configError(fn: () => unknown): RouteMQError {
  try {
    fn();
  } catch (err) {
    expect(isRouteMQError(err, ErrorCodes.CONFIG_INVALID), String(err)).toBe(true);
    return err as RouteMQError;
  }
  throw new Error('expected a configuration error');
}

const PASSWORD = 'S3cr3t-Pa55w0rd';

describe('loadConfig defaults', () => {
  it('applies every default when nothing is set', () => {
    const cwd = tempDir();
    const config = loadConfig({ env: {}, envFile: false, cwd });
    expect(config.nodeEnv).toBe('production');
    expect(config.mqtt).toMatchObject({
      url: 'mqtt://localhost:1883',
      protocol: 'mqtt',
      host: 'localhost',
      port: 1883,
      brokerExplicit: false,
      username: undefined,
      password: undefined,
      clientIdPrefix: 'routemq',
      groupName: 'mqtt_framework_group',
      protocolVersion: 5,
      keepaliveS: 30,
      cleanSession: false,
      sessionExpiryS: 3600,
      receiveMaximum: 256,
      connectTimeoutMs: 10_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
    });
    expect(config.mqtt.tls).toEqual({ insecure: false });
    expect(config.log).toEqual({ level: 'info', pretty: undefined });
    expect(config.routemq).toEqual({
      routersDir: join(cwd, 'routers'),
      stateDir: join(cwd, '.routemq'),
      instanceId: defaultInstanceId(join(cwd, '.routemq')),
      appName: defaultAppName(cwd),
      concurrency: 64,
      handlerTimeoutMs: 30_000,
      maxAttempts: 3,
      retryBaseMs: 100,
      retryMaxMs: 5000,
      dlqPrefix: 'routemq/dlq',
      dlqMaxEntries: 100_000,
      dlqMaxBytes: 268_435_456,
      dlqMqttMaxBytes: 262_144,
      maxPayloadBytes: 1_048_576,
      maxJsonDepth: 64,
      shutdownTimeoutMs: 10_000,
      devBroker: 'auto',
      heartbeatIntervalMs: 1000,
      stuckTimeoutMs: 30_000,
      maxRestarts: 10,
      maxCrashes: 2,
      restartWindowMs: 300_000,
      restartBaseMs: 500,
      restartMaxMs: 30_000,
      workerStartTimeoutMs: 30_000,
      killTimeoutMs: 5000,
      controlSocket: join(cwd, '.routemq', 'control.sock'),
      registryPrefix: 'routemq/registry',
      orphanGraceS: 30,
    });
    expect(config.redis).toEqual({
      enabled: false,
      host: 'localhost',
      port: 6379,
      db: 0,
      username: undefined,
      password: undefined,
      prefix: 'routemq:',
    });
  });

  it('derives the default instance id from the host name and the state directory', () => {
    expect(defaultInstanceId('/srv/a/.routemq', 'my host.local!')).toMatch(/^my-host\.local--[0-9a-f]{6}$/);
    // The same place gives the same id (a restart resumes its sessions); two checkouts on one host differ.
    expect(defaultInstanceId('/srv/a/.routemq', 'h')).toBe(defaultInstanceId('/srv/a/.routemq', 'h'));
    expect(defaultInstanceId('/srv/a/.routemq', 'h')).not.toBe(defaultInstanceId('/srv/b/.routemq', 'h'));
    expect(defaultInstanceId('/x', 'h'.repeat(80))).toHaveLength(64);
    expect(sanitizeInstanceId('my host.local!')).toBe('my-host.local-');
    expect(sanitizeInstanceId('h'.repeat(80))).toHaveLength(64);
    expect(sanitizeInstanceId('')).toBe('routemq');
  });

  it('lists every schema variable once in CONFIG_VARIABLES, in the order of CONFIG_DEFAULTS', () => {
    expect(CONFIG_VARIABLES).toEqual(Object.keys(configSchema.shape));
    expect(CONFIG_VARIABLES).toEqual(Object.keys(CONFIG_DEFAULTS));
    expect(new Set(CONFIG_VARIABLES).size).toBe(CONFIG_VARIABLES.length);
    expect(Object.isFrozen(CONFIG_VARIABLES)).toBe(true);
    expect(Object.isFrozen(CONFIG_DEFAULTS)).toBe(true);
  });

  it('returns a deeply frozen object', () => {
    const cwd = tempDir({ 'ca.pem': 'ca' });
    const env = { MQTT_PASSWORD: PASSWORD, MQTT_BROKER: 'mqtts://b', MQTT_TLS_CA: 'ca.pem' };
    const config = loadConfig({ cwd, env, envFile: false });
    for (const part of [config, config.mqtt, config.mqtt.tls, config.mqtt.password, config.log, config.routemq]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(Object.isFrozen(config.redis)).toBe(true);
    expect(() => {
      (config.mqtt as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.mqtt.tls as { insecure: boolean }).insecure = true;
    }).toThrow(TypeError);
  });
});

describe('loadConfig sources', () => {
  it('layers defaults < .env < env < overrides', () => {
    const cwd = tempDir({
      '.env': 'MQTT_KEEPALIVE_S=40\nLOG_LEVEL=debug\nMQTT_CLIENT_ID=from-file\nMQTT_GROUP_NAME=file_group\n',
    });
    const config = loadConfig({
      cwd,
      env: { LOG_LEVEL: 'warn', MQTT_CLIENT_ID: 'from-env', MQTT_GROUP_NAME: 'env_group' },
      overrides: { MQTT_CLIENT_ID: 'from-flag', MQTT_GROUP_NAME: undefined },
    });
    expect(config.mqtt.keepaliveS).toBe(40);
    expect(config.log.level).toBe('warn');
    expect(config.mqtt.clientIdPrefix).toBe('from-flag');
    expect(config.mqtt.groupName).toBe('env_group');
    expect(config.mqtt.sessionExpiryS).toBe(3600);
  });

  it('reads <cwd>/.env without touching process.env', () => {
    const cwd = tempDir({ '.env': 'ROUTEMQ_TEST_ONLY_VARIABLE=1\nMQTT_RECEIVE_MAXIMUM=12\n' });
    const before = { ...process.env };
    const config = loadConfig({ cwd, env: {} });
    expect(config.mqtt.receiveMaximum).toBe(12);
    expect(process.env).toEqual(before);
  });

  it('reads the env file it is given, and none with envFile: false', () => {
    const cwd = tempDir({ '.env': 'MQTT_KEEPALIVE_S=40\n', 'other.env': 'MQTT_KEEPALIVE_S=50\n' });
    expect(loadConfig({ cwd, env: {}, envFile: 'other.env' }).mqtt.keepaliveS).toBe(50);
    expect(loadConfig({ cwd, env: {}, envFile: false }).mqtt.keepaliveS).toBe(30);
  });

  it('refuses a named env file that does not exist', () => {
    const error = configError(() => load({}, { envFile: 'missing.env' }));
    expect(error.message).toContain('missing.env');
  });

  it('treats empty values as unset', () => {
    const cwd = tempDir({ '.env': 'MQTT_KEEPALIVE_S=40\nMQTT_USERNAME=\n' });
    const config = loadConfig({ cwd, env: { MQTT_KEEPALIVE_S: '' }, overrides: { LOG_LEVEL: '' } });
    expect(config.mqtt.keepaliveS).toBe(40);
    expect(config.mqtt.username).toBeUndefined();
    expect(config.log.level).toBe('info');
  });

  it('accepts numbers and booleans in overrides', () => {
    const config = load({}, { overrides: { MQTT_PORT: 1884, MQTT_CLEAN_SESSION: true, LOG_PRETTY: false } });
    expect(config.mqtt.port).toBe(1884);
    expect(config.mqtt.cleanSession).toBe(true);
    expect(config.log.pretty).toBe(false);
  });

  it('refuses an unknown override key, naming it', () => {
    const error = configError(() => load({}, { overrides: { MQTT_PROT: 1884 } }));
    expect(error.message).toContain('MQTT_PROT');
  });

  it('ignores unknown environment variables', () => {
    expect(() => load({ PATH: '/bin', MQTT_SOMETHING_ELSE: 'x' })).not.toThrow();
  });

  it('resolves ROUTEMQ_ROUTERS_DIR against cwd', () => {
    const cwd = tempDir();
    expect(loadConfig({ cwd, envFile: false, env: { ROUTEMQ_ROUTERS_DIR: 'src/routes' } }).routemq.routersDir).toBe(
      join(cwd, 'src/routes'),
    );
  });
});

describe('MQTT_BROKER and MQTT_PORT', () => {
  it.each([
    ['broker.local', 'mqtt://broker.local:1883', 'broker.local', 1883],
    ['10.0.0.5', 'mqtt://10.0.0.5:1883', '10.0.0.5', 1883],
    ['::1', 'mqtt://[::1]:1883', '::1', 1883],
    ['mqtt://broker.local', 'mqtt://broker.local:1883', 'broker.local', 1883],
    ['mqtt://broker.local:1884', 'mqtt://broker.local:1884', 'broker.local', 1884],
    ['mqtts://broker.example.com', 'mqtts://broker.example.com:8883', 'broker.example.com', 8883],
    ['MQTTS://b:8884/', 'mqtts://b:8884', 'b', 8884],
    ['ws://broker.local/mqtt', 'ws://broker.local:80/mqtt', 'broker.local', 80],
    ['wss://broker.local', 'wss://broker.local:443', 'broker.local', 443],
    ['wss://[::1]:8443/mqtt', 'wss://[::1]:8443/mqtt', '::1', 8443],
  ])('resolves %s to %s', (broker, url, host, port) => {
    const config = load({ MQTT_BROKER: broker });
    expect(config.mqtt).toMatchObject({ url, host, port, brokerExplicit: true });
  });

  it('uses MQTT_PORT when the URL gives no port', () => {
    expect(load({ MQTT_BROKER: 'mqtts://b', MQTT_PORT: '9883' }).mqtt.url).toBe('mqtts://b:9883');
    expect(load({ MQTT_PORT: '1884' }).mqtt.url).toBe('mqtt://localhost:1884');
  });

  it('accepts a URL port equal to MQTT_PORT and refuses a different one', () => {
    expect(load({ MQTT_BROKER: 'mqtt://b:1884', MQTT_PORT: '1884' }).mqtt.port).toBe(1884);
    const error = configError(() => load({ MQTT_BROKER: 'ws://b:80/mqtt', MQTT_PORT: '8080' }));
    expect(error.message).toMatch(/MQTT_PORT: conflicts with port 80/);
  });

  it('marks the broker explicit when any source sets it, even to the default', () => {
    const cwd = tempDir({ '.env': 'MQTT_BROKER=localhost\n' });
    expect(loadConfig({ cwd, env: {} }).mqtt.brokerExplicit).toBe(true);
  });

  it('refuses credentials in the URL without echoing them', () => {
    const error = configError(() => load({ MQTT_BROKER: `mqtt://user:${PASSWORD}@broker.local` }));
    expect(error.message).toContain('MQTT_BROKER');
    expect(error.message).toContain('MQTT_USERNAME');
    expect(error.message).not.toContain(PASSWORD);
  });

  it.each([
    'tcp://broker.local',
    'mqtt://broker.local/path',
    'mqtt://broker.local?clientId=x',
    'ws://broker.local/mqtt#x',
    'broker.local:1883',
    'mqtt://:1883',
    'mqtt://broker.local:70000',
    'mqtt://broker.local:',
    'bad host',
    'http://broker.local',
  ])('refuses MQTT_BROKER=%s', (broker) => {
    expect(configError(() => load({ MQTT_BROKER: broker })).message).toContain('MQTT_BROKER:');
  });
});

describe('*_FILE secrets', () => {
  it('reads secrets from files and strips one trailing newline', () => {
    const cwd = tempDir({ pw: `${PASSWORD}\n`, user: 'alice\r\n', redis: 'two\n\n' });
    const config = loadConfig({
      cwd,
      envFile: false,
      env: { MQTT_PASSWORD_FILE: join(cwd, 'pw'), MQTT_USERNAME_FILE: 'user', REDIS_PASSWORD_FILE: 'redis' },
    });
    expect(config.mqtt.password?.reveal()).toBe(PASSWORD);
    expect(config.mqtt.username).toBe('alice');
    expect(config.redis.password?.reveal()).toBe('two\n');
  });

  it('refuses a variable and its _FILE variant together, even from different sources', () => {
    const cwd = tempDir({ '.env': `MQTT_PASSWORD=${PASSWORD}\n`, pw: 'other' });
    const error = configError(() => loadConfig({ cwd, env: { MQTT_PASSWORD_FILE: 'pw' } }));
    expect(error.message).toMatch(/MQTT_PASSWORD_FILE: .*MQTT_PASSWORD/);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.message).not.toContain('other');
  });

  it('refuses a missing or empty file, naming the variable and the path', () => {
    const cwd = tempDir({ empty: '\n' });
    const error = configError(() =>
      loadConfig({ cwd, envFile: false, env: { REDIS_PASSWORD_FILE: 'nope', MQTT_PASSWORD_FILE: 'empty' } }),
    );
    expect(error.message).toContain(`REDIS_PASSWORD_FILE: file not found: ${join(cwd, 'nope')}`);
    expect(error.message).toContain(`MQTT_PASSWORD_FILE: file is empty: ${join(cwd, 'empty')}`);
  });
});

describe('secrets stay secret', () => {
  it('keeps the password out of JSON, inspect and describeConfig', () => {
    const config = load({ MQTT_PASSWORD: PASSWORD, REDIS_PASSWORD: PASSWORD, MQTT_USERNAME: 'alice' });
    expect(config.mqtt.password).toBeInstanceOf(Secret);
    expect(config.mqtt.password?.reveal()).toBe(PASSWORD);
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    expect(inspect(config, { depth: Infinity, showHidden: true })).not.toContain(PASSWORD);
    const described = describeConfig(config);
    expect(JSON.stringify(described)).not.toContain(PASSWORD);
    expect(described['mqtt.password']).toBe('[redacted]');
    expect(described['mqtt.username']).toBe('alice');
    expect(described['mqtt.url']).toBe('mqtt://localhost:1883');
  });

  it('keeps secret values out of error messages', () => {
    const error = configError(() =>
      load({ MQTT_PASSWORD: PASSWORD, REDIS_PASSWORD: PASSWORD, MQTT_PORT: PASSWORD, MQTT_KEEPALIVE_S: '1' }),
    );
    expect(error.message).toContain('MQTT_PORT');
    // MQTT_PORT is not secret, so its wrong value is echoed; the two password variables never are.
    expect(error.message.split(PASSWORD)).toHaveLength(2);
  });

  it('prints a Secret as [redacted] everywhere', () => {
    const secret = new Secret(PASSWORD);
    expect(String(secret)).toBe('[redacted]');
    // The point is what careless code does with a Secret, which the lint rules rightly forbid.
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
    expect(`${secret}`).toBe('[redacted]');
    // eslint-disable-next-line @typescript-eslint/restrict-plus-operands
    expect('x' + secret).toBe('x[redacted]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
    expect(inspect({ secret })).not.toContain(PASSWORD);
    expect(secret.reveal()).toBe(PASSWORD);
  });
});

describe('validation', () => {
  it('gathers every invalid value into one error naming each variable', () => {
    const bad = {
      MQTT_PORT: '70000',
      MQTT_CLIENT_ID: 'has space',
      MQTT_GROUP_NAME: 'a/#',
      MQTT_PROTOCOL_VERSION: '3',
      MQTT_KEEPALIVE_S: '1.5',
      MQTT_CLEAN_SESSION: 'on',
      MQTT_SESSION_EXPIRY_S: '0',
      MQTT_RECEIVE_MAXIMUM: '0x10',
      MQTT_CONNECT_TIMEOUT_MS: '1e3',
      LOG_LEVEL: 'loud',
      LOG_PRETTY: 'maybe',
      ROUTEMQ_INSTANCE_ID: 'a b',
      ROUTEMQ_CONCURRENCY: '-1',
      ROUTEMQ_MAX_ATTEMPTS: '101',
      ROUTEMQ_DLQ_PREFIX: 'dlq/#',
      ROUTEMQ_MAX_JSON_DEPTH: '10001',
      ROUTEMQ_DEV_BROKER: 'always',
      ENABLE_REDIS: 'y',
      REDIS_HOST: 'bad host',
      REDIS_DB: '16',
      ROUTEMQ_REDIS_PREFIX: 'has space',
    };
    const error = configError(() => load(bad));
    const lines = error.message.split('\n').slice(1);
    expect(lines).toHaveLength(Object.keys(bad).length);
    for (const [name, value] of Object.entries(bad)) {
      expect(error.message).toContain(`  - ${name}: expected`);
      expect(error.message).toContain(JSON.stringify(value));
    }
    expect(error.message).toMatch(/^Invalid configuration \(21 problems\):/);
  });

  it('accepts the boolean spellings, trims numbers and lower-cases choices', () => {
    const yes = load({ MQTT_CLEAN_SESSION: 'YES', LOG_PRETTY: '1', ENABLE_REDIS: 'True', MQTT_KEEPALIVE_S: ' 60 ' });
    expect([yes.mqtt.cleanSession, yes.log.pretty, yes.redis.enabled, yes.mqtt.keepaliveS]).toEqual([
      true,
      true,
      true,
      60,
    ]);
    const no = load({ MQTT_CLEAN_SESSION: 'no', LOG_PRETTY: '0', ENABLE_REDIS: 'FALSE', LOG_LEVEL: 'DEBUG' });
    expect([no.mqtt.cleanSession, no.log.pretty, no.redis.enabled, no.log.level]).toEqual([
      false,
      false,
      false,
      'debug',
    ]);
    expect(load({ MQTT_PROTOCOL_VERSION: '4' }).mqtt.protocolVersion).toBe(4);
  });

  it.each(['a/#', 'x/+', 'g$', 'a\u0000b', 'x'.repeat(65)])('refuses the group name %j', (group) => {
    expect(configError(() => load({ MQTT_GROUP_NAME: group })).message).toContain('MQTT_GROUP_NAME:');
  });

  it('accepts group names made of letters, digits, _ and - up to 64 characters', () => {
    expect(load({ MQTT_GROUP_NAME: 'Group_1-a' }).mqtt.groupName).toBe('Group_1-a');
    expect(load({ MQTT_GROUP_NAME: 'x'.repeat(64) }).mqtt.groupName).toHaveLength(64);
  });

  it.each(['a/+', '$SYS/dlq', 'dlq\u0000x', 'dlq/'])('refuses the DLQ prefix %j', (prefix) => {
    expect(configError(() => load({ ROUTEMQ_DLQ_PREFIX: prefix })).message).toContain('ROUTEMQ_DLQ_PREFIX:');
  });

  it('refuses a minimum above its maximum', () => {
    const error = configError(() => load({ MQTT_RECONNECT_MIN_MS: '40000', ROUTEMQ_RETRY_MAX_MS: '50' }));
    expect(error.message).toContain('MQTT_RECONNECT_MIN_MS: expected at most MQTT_RECONNECT_MAX_MS (30000)');
    expect(error.message).toContain('ROUTEMQ_RETRY_MAX_MS: expected at least ROUTEMQ_RETRY_BASE_MS (100)');
    expect(configError(() => load({ WORKER_MIN_COUNT: '12' })).message).toContain(
      'WORKER_MIN_COUNT: expected at most WORKER_MAX_COUNT (10)',
    );
  });
});

describe('Redis address and TLS', () => {
  it('takes a redis:// or rediss:// REDIS_HOST apart; rediss turns TLS on', () => {
    expect(load({ REDIS_HOST: 'rediss://cache.local:6380' }).redis).toMatchObject({
      host: 'cache.local',
      port: 6380,
      tls: {},
    });
    expect(load({ REDIS_HOST: 'redis://10.0.0.5' }).redis).toMatchObject({
      host: '10.0.0.5',
      port: 6379,
      tls: undefined,
    });
    expect(load({ REDIS_HOST: 'cache', REDIS_TLS: 'true' }).redis.tls).toEqual({});
  });

  it('refuses credentials or a db in the URL, a conflicting port, and TLS files without TLS', () => {
    const error = configError(() => load({ REDIS_HOST: 'redis://user:pw@cache', REDIS_TLS_CA: 'ca.pem' }));
    expect(error.message).toContain('REDIS_HOST: credentials in the URL are not allowed');
    expect(error.message).not.toContain('pw@');
    expect(configError(() => load({ REDIS_HOST: 'redis://cache/2' })).message).toContain('REDIS_HOST: expected');
    expect(configError(() => load({ REDIS_HOST: 'redis://cache:6380', REDIS_PORT: '6381' })).message).toContain(
      'REDIS_PORT: conflicts with port 6380 in REDIS_HOST',
    );
    const cwd = tempDir({ 'ca.pem': 'ca' });
    const noTls = configError(() => loadConfig({ cwd, env: { REDIS_TLS_CA: 'ca.pem' }, envFile: false }));
    expect(noTls.message).toContain('REDIS_TLS_CA: needs TLS');
    expect(configError(() => load({ REDIS_HOST: 'rediss://cache', REDIS_TLS: 'false' })).message).toContain(
      'REDIS_TLS: is false, but REDIS_HOST uses rediss://',
    );
  });
});

describe('autoscaler', () => {
  it('reads the variables RouteMQ documents, with the utilisation as a ratio', () => {
    const config = load({
      ENABLE_REDIS: 'true',
      WORKER_AUTO_SCALE: 'true',
      WORKER_MIN_COUNT: '2',
      WORKER_MAX_COUNT: '6',
      ROUTEMQ_SCALE_TARGET_UTILIZATION: '80',
      ROUTEMQ_SCALE_LEASE_MS: '3000',
    });
    expect(config.scaling).toMatchObject({ autoScale: true, minWorkers: 2, maxWorkers: 6, targetBusy: 0.8 });
    expect(config.scaling.leaseMs).toBe(3000);
    expect(load({}).scaling).toMatchObject({ autoScale: false, minWorkers: 1, maxWorkers: 10, targetBusy: 0.7 });
  });

  it('refuses autoscaling without Redis, and out-of-range values', () => {
    expect(configError(() => load({ WORKER_AUTO_SCALE: 'true' })).message).toContain(
      'WORKER_AUTO_SCALE: needs Redis: set ENABLE_REDIS=true',
    );
    const error = configError(() =>
      load({ WORKER_MAX_COUNT: '0', ROUTEMQ_SCALE_TARGET_UTILIZATION: '101', ROUTEMQ_SCALE_LEASE_MS: '10' }),
    );
    for (const name of ['WORKER_MAX_COUNT', 'ROUTEMQ_SCALE_TARGET_UTILIZATION', 'ROUTEMQ_SCALE_LEASE_MS']) {
      expect(error.message).toContain(`  - ${name}: expected`);
    }
  });
});

describe('TLS', () => {
  it('refuses MQTT_TLS_INSECURE unless NODE_ENV=development', () => {
    const env = { MQTT_BROKER: 'mqtts://b', MQTT_TLS_INSECURE: 'true' };
    expect(configError(() => load(env)).message).toContain('MQTT_TLS_INSECURE:');
    expect(configError(() => load({ ...env, NODE_ENV: 'test' })).message).toContain('MQTT_TLS_INSECURE:');
    expect(load({ ...env, NODE_ENV: 'development' }).mqtt.tls.insecure).toBe(true);
    expect(load({ MQTT_TLS_INSECURE: 'false' }).mqtt.tls.insecure).toBe(false);
  });

  it('resolves TLS files to absolute paths', () => {
    const cwd = tempDir({ 'ca.pem': 'ca', 'cert.pem': 'cert', 'key.pem': 'key' });
    const env = { MQTT_BROKER: 'mqtts://b', MQTT_TLS_CA: 'ca.pem', MQTT_TLS_CERT: 'cert.pem', MQTT_TLS_KEY: 'key.pem' };
    expect(loadConfig({ cwd, env, envFile: false }).mqtt.tls).toEqual({
      caFile: join(cwd, 'ca.pem'),
      certFile: join(cwd, 'cert.pem'),
      keyFile: join(cwd, 'key.pem'),
      insecure: false,
    });
  });

  it('refuses a missing TLS file, naming the variable and the path', () => {
    const cwd = tempDir();
    const error = configError(() =>
      loadConfig({ cwd, envFile: false, env: { MQTT_BROKER: 'mqtts://b', MQTT_TLS_CA: 'ca.pem' } }),
    );
    expect(error.message).toContain(`MQTT_TLS_CA: file not found: ${join(cwd, 'ca.pem')}`);
  });

  it('refuses TLS files on a plain-text broker and a certificate without its key', () => {
    const cwd = tempDir({ 'cert.pem': 'cert' });
    const error = configError(() => loadConfig({ cwd, envFile: false, env: { MQTT_TLS_CERT: 'cert.pem' } }));
    expect(error.message).toContain('MQTT_TLS_CERT: needs TLS');
    expect(error.message).toContain('MQTT_TLS_KEY: MQTT_TLS_CERT and MQTT_TLS_KEY go together');
  });
});
