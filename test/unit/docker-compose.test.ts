import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';
import { MOSQUITTO_CONF_PATH, renderMosquittoConfig } from '../../src/dev/mosquitto.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

interface ComposeFile {
  services: Record<
    string,
    { image?: string; build?: string; volumes?: string[]; environment?: Record<string, string> }
  >;
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
});
