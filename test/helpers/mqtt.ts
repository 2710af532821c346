import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';

/** A unique name for client ids, groups and topics of one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Connect a plain MQTT.js client (test side: publisher or observer) and wait for CONNACK. */
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, clientId: uniqueName('test'), reconnectPeriod: 0, ...options });
}

/** Publish `count` QoS1 messages built by `make`, with a bounded number awaiting PUBACK at once. */
export async function publishMany(
  client: MqttClient,
  count: number,
  make: (i: number) => { topic: string; payload: string | Buffer },
  window = 100,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const { topic, payload } = make(next++);
      await client.publishAsync(topic, payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
}

/** Collect messages on a filter; `waitFor(n)` resolves when n have arrived. */
export async function collect(
  client: MqttClient,
  filter: string,
): Promise<{
  messages: { topic: string; payload: Buffer; properties: unknown }[];
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}> {
  const messages: { topic: string; payload: Buffer; properties: unknown }[] = [];
  client.on('message', (topic, payload, packet) => {
    if (topicMatches(filter, topic)) messages.push({ topic, payload, properties: packet.properties });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    messages,
    waitFor: (n, timeoutMs = 20_000) => waitUntil(() => messages.length >= n, timeoutMs, `${n} messages on ${filter}`),
  };
}

/** Poll `predicate` (sync or async) every 25 ms until it holds. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
