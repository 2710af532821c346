import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES } from '../../src/config/schema.js';
import { MOSQUITTO_CONF_PATH, renderMosquittoConfig } from '../../src/dev/mosquitto.js';
import { loadConfig } from '../../src/config/load-config.js';
import { dockerfileEnv, dockerfileHealthcheck } from '../helpers/docker-sim.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

type Port = string | { target: number; published?: string | number; host_ip?: string };

interface Service {
  image?: string;
  build?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  ports?: Port[];
  healthcheck?: { test: string[]; start_period?: string };
  depends_on?: Record<string, { condition: string }>;
  hostname?: string;
  container_name?: string;
  read_only?: boolean;
  tmpfs?: string[];
  stop_grace_period?: string;
}

interface ComposeFile {
  services: Record<string, Service>;
}

/** `40s`, `1m30s` → seconds. */
function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)(h|m|s)/g))
    total += Number(n) * { h: 3600, m: 60, s: 1 }[unit as 'h'];
  return total;
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8')) as ComposeFile;

  it('runs eclipse-mosquitto 2, redis 7 and the app', () => {
    expect(compose.services['mosquitto']?.image).toBe('eclipse-mosquitto:2');
    expect(compose.services['redis']?.image).toBe('redis:7');
    expect(compose.services['app']?.build).toBe('.');
  });

  it('mounts the mosquitto.conf that the tests and the development broker use', () => {
    const mount = compose.services['mosquitto']?.volumes?.find((v) => v.includes('mosquitto.conf'));
    expect(mount?.split(':')[0]).toBe('./config/mosquitto.conf');
    expect(root('config/mosquitto.conf')).toBe(MOSQUITTO_CONF_PATH);
  });

  it('keeps persistence on, in the data volume the compose file mounts', () => {
    const conf = readFileSync(MOSQUITTO_CONF_PATH, 'utf8');
    expect(conf).toMatch(/^persistence true$/m);
    expect(conf).toMatch(/^persistence_location \/mosquitto\/data\/$/m);
    expect(compose.services['mosquitto']?.volumes).toContain('mosquitto-data:/mosquitto/data');
  });

  it('gives the app only variables the config knows', () => {
    const names = Object.keys(compose.services['app']?.environment ?? {});
    expect(names.filter((n) => !(CONFIG_VARIABLES as readonly string[]).includes(n))).toEqual([]);
  });

  it('renders the same config for local brokers, with only listener, data dir and log replaced', () => {
    const rendered = renderMosquittoConfig({ port: 1999, dir: '/tmp/x' });
    expect(rendered).toContain('listener 1999 127.0.0.1');
    expect(rendered).toContain('persistence_location /tmp/x/');
    expect(rendered).toContain('max_queued_messages 100000');
    expect(rendered).not.toContain('/mosquitto/data');
  });

  const app = compose.services['app'] as Service;
  const setting = (name: keyof typeof CONFIG_DEFAULTS): string =>
    String(app.environment?.[name] ?? CONFIG_DEFAULTS[name]);

  it('publishes nothing beyond the host loopback: the broker is anonymous and Redis has no password', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        const hostIp = typeof port === 'string' ? port.split(':')[0] : port.host_ip;
        expect(hostIp, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
      }
    }
    expect(compose.services['redis']?.ports ?? []).toEqual([]);
    // A fixed host port would make the second replica of `--scale app=3` fail to start.
    expect(app.ports?.every((p) => typeof p === 'object' && p.published === undefined)).toBe(true);
  });

  it('enables Redis, and serves the health server on the compose network', () => {
    expect(app.environment).toMatchObject({
      ENABLE_REDIS: 'true',
      REDIS_HOST: 'redis',
      MQTT_BROKER: 'mosquitto',
      HEALTH_HTTP_ENABLED: 'true',
      HEALTH_HTTP_HOST: '0.0.0.0',
    });
    expect(app.ports).toContainEqual(expect.objectContaining({ target: Number(setting('HEALTH_HTTP_PORT')) }));
  });

  it('gives every replica its own instance id, from its host name', () => {
    expect(app.environment?.['ROUTEMQ_INSTANCE_ID']).toBeUndefined();
    expect(app.hostname).toBeUndefined();
    expect(app.container_name).toBeUndefined();
  });

  it('starts the app once the broker and Redis are healthy, and checks it on /ready as the image does', () => {
    expect(app.depends_on).toEqual({
      mosquitto: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(compose.services['mosquitto']?.healthcheck?.test[0]).toBe('CMD');
    expect(compose.services['redis']?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    const image = dockerfileHealthcheck(root('Dockerfile'));
    expect(image?.join(' ')).toContain('/ready');
    expect(app.healthcheck?.test).toEqual(['CMD', ...(image ?? [])]);
  });

  it('runs the app on a read-only root file system with the state directory writable', () => {
    expect(app.read_only).toBe(true);
    const stateDir = dockerfileEnv(root('Dockerfile'))['ROUTEMQ_STATE_DIR'];
    expect(stateDir).toBeDefined();
    expect(app.tmpfs).toContain(stateDir);
  });

  it("makes a valid config from the image's ENV and the app's environment", () => {
    const env = { ...dockerfileEnv(root('Dockerfile')), ...app.environment };
    const resolved = loadConfig({ env, envFile: false, cwd: '/app' });
    expect(resolved.redis.enabled).toBe(true);
    expect(resolved.health).toMatchObject({ httpEnabled: true, host: '0.0.0.0', port: 8080 });
    expect(resolved.mqtt.brokerExplicit).toBe(true);
  });

  it('gives a stop longer than the worst case of a drain', () => {
    const worstS =
      (2 * Number(setting('ROUTEMQ_SHUTDOWN_TIMEOUT_MS')) + 2 * Number(setting('ROUTEMQ_KILL_TIMEOUT_MS'))) / 1000;
    expect(seconds(app.stop_grace_period ?? '10s')).toBeGreaterThan(worstS);
  });
});
