import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { useFixture } from '../helpers/fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const run = promisify(execFile);

interface Doc {
  asyncapi: string;
  info: { title: string; version: string };
  servers: { broker: { host: string; protocol: string; protocolVersion: string } };
  channels: Record<string, { address: string }>;
  operations: Record<string, { action: string }>;
}

describe('routemq docs', () => {
  const f = useFixture({ broker: false });

  it('writes a valid AsyncAPI 3 document of the sample routers: YAML on stdout, JSON with --out', async () => {
    const env = { ...process.env, MQTT_BROKER: 'broker.example', MQTT_PORT: '1884', MQTT_PROTOCOL_VERSION: '4' };
    const { stdout } = await run(process.execPath, [BIN, 'docs'], { cwd: ROOT, env });
    const yamlDoc = parse(stdout) as Doc;
    const out = f.path('asyncapi', '.json');
    const { stderr } = await run(process.execPath, [BIN, 'docs', '--routers', 'routers', '--out', out], {
      cwd: ROOT,
      env,
    });
    expect(stderr).toContain('(2 channels)');
    const text = readFileSync(out, 'utf8');
    const jsonDoc = JSON.parse(text) as Doc;
    expect(jsonDoc).toEqual(yamlDoc);
    expect(jsonDoc.info).toEqual(expect.objectContaining({ title: 'routemq', version: '0.1.0' }));
    expect(jsonDoc.servers.broker).toEqual({ host: 'broker.example:1884', protocol: 'mqtt', protocolVersion: '3.1.1' });
    expect(Object.values(jsonDoc.channels).map((c) => c.address)).toEqual([
      'devices/{deviceId}/commands/{wildcard1}',
      'sensors/{sensorId}/telemetry',
    ]);
    expect(Object.values(jsonDoc.operations).map((o) => o.action)).toEqual(['receive', 'receive']);
    const { diagnostics } = await new Parser().parse(text);
    expect(diagnostics.filter((d) => (d.severity as number) === (DiagnosticSeverity.Error as number))).toEqual([]);
  });

  it('fails with a code when the output cannot be written, or the routers are missing', async () => {
    const failure = (args: string[]) =>
      run(process.execPath, [BIN, 'docs', ...args], { cwd: ROOT, env: process.env }).then(
        () => '',
        (err: { code: number; stderr: string }) => `${err.code} ${err.stderr}`,
      );
    expect(await failure(['--out', `${f.dir}/missing-dir/x.yaml`])).toMatch(
      /^1 routemq: RMQ_ERR_FILE_WRITE_FAILED: .*ENOENT/,
    );
    expect(await failure(['--routers', f.mkdir('empty')])).toMatch(/^1 routemq: RMQ_ERR_ROUTES_NOT_FOUND/);
  });
});
