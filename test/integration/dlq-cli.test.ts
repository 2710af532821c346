import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterSummary } from '../../src/dlq/store.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { deadLetterPayload } from '../../src/message/dead-letter.js';
import type { RouteMQApp } from '../../src/runtime/app.js';
import { startTestApp } from '../helpers/app.js';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const exec = promisify(execFile);

describe('routemq dlq', () => {
  let broker: TestBroker;
  let stateDir: string;
  let env: Record<string, string>;

  async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return exec(process.execPath, [BIN, 'dlq', ...args], { env: { ...process.env, ...env } });
  }

  beforeAll(async () => {
    broker = await startTestBroker();
    stateDir = mkdtempSync(join(tmpdir(), 'routemq-dlq-cli-'));
    env = {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      ROUTEMQ_STATE_DIR: stateDir,
      ROUTEMQ_CONTROL_SOCKET: 'none',
      ROUTEMQ_MAX_ATTEMPTS: '1',
      MQTT_CLIENT_ID: uniqueName('cli'),
    };
  });
  afterAll(async () => {
    await broker.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('lists dead letters nobody subscribed to after the app stopped, shows exact bytes, replays once to the fixed route', async () => {
    const client = await connectClient(broker.url);
    let broken: RouteMQApp | undefined = await startTestApp(
      broker,
      (router) =>
        router.on('fix/{id}', () => {
          throw new Error('not fixed yet');
        }),
      env,
    );
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x10]);
    await client.publishAsync('fix/b', binary, {
      qos: 1,
      properties: { userProperties: { tenant: 'acme', tag: ['a', 'b'] }, correlationData: Buffer.from([1, 2]) },
    });
    await client.publishAsync('fix/t', '{"t":1}', { qos: 1 });
    await waitUntil(() => broken?.deadLetters?.status().store.entries === 2, 15_000, 'two dead letters');
    await broken.stop();
    broken = undefined;

    const listed = JSON.parse((await cli('ls', '--json')).stdout) as DeadLetterSummary[];
    expect(listed.map((s) => [s.topic, s.code]).sort()).toEqual([
      ['fix/b', 'RMQ_ERR_HANDLER_FAILED'],
      ['fix/t', 'RMQ_ERR_HANDLER_FAILED'],
    ]);
    const id = listed.find((s) => s.topic === 'fix/b')?.id ?? '';
    const shown = JSON.parse((await cli('show', id)).stdout) as DeadLetterEnvelope;
    expect(deadLetterPayload(shown).equals(binary)).toBe(true);

    // The fixed route runs the replayed message once, with its properties and the replay mark.
    const seen: { payload: Buffer; properties: unknown }[] = [];
    const fixed = await startTestApp(
      broker,
      (router) => router.on('fix/{id}', (ctx) => void seen.push({ payload: ctx.raw, properties: ctx.properties })),
      { ...env, MQTT_CLIENT_ID: uniqueName('fixed') },
    );
    try {
      const first = await cli('replay', id);
      expect(first.stdout).toBe('replayed 1\n');
      expect(first.stderr).toBe('');
      await waitUntil(() => seen.length === 1, 10_000, 'the replayed message');
      expect(seen[0]?.payload.equals(binary)).toBe(true);
      expect(seen[0]?.properties).toMatchObject({
        userProperties: { tenant: 'acme', tag: ['a', 'b'], 'routemq-replayed': id },
        correlationData: Buffer.from([1, 2]),
      });
      const second = await cli('replay', id);
      expect(second.stderr).toMatch(new RegExp(`warning: ${id} was already replayed`));
      await waitUntil(() => seen.length === 2, 10_000, 'the second replay');
      const after = JSON.parse((await cli('ls', '--json')).stdout) as DeadLetterSummary[];
      expect(after.find((s) => s.id === id)?.replayed?.topic).toBe('fix/b');
      expect((await cli('purge', '--route', 'fix/{id}')).stdout).toBe('purged 2\n');
      expect((await cli('ls')).stdout).toBe('no dead letters\n');
    } finally {
      await fixed.stop();
      await client.endAsync();
    }
  });

  it('fails with RMQ_ERR_DLQ_NOT_FOUND for an unknown id', async () => {
    await expect(cli('show', 'nope')).rejects.toMatchObject({ stderr: expect.stringMatching(/RMQ_ERR_DLQ_NOT_FOUND/) });
  });

  it('refuses a replay or purge that names nothing, and a bad date, with RMQ_ERR_DLQ_REQUEST_INVALID', async () => {
    const invalid = { stderr: expect.stringMatching(/RMQ_ERR_DLQ_REQUEST_INVALID/) };
    await expect(cli('replay')).rejects.toMatchObject(invalid);
    await expect(cli('purge')).rejects.toMatchObject(invalid);
    await expect(cli('ls', '--since', 'yesterday')).rejects.toMatchObject(invalid);
    await expect(cli('replay', '--all', '--to-topic', 'a/#')).rejects.toMatchObject(invalid);
  });
});
