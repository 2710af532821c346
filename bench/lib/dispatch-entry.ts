// The process `npm run bench:dispatch` starts, fresh each time: it feeds DISPATCH_N packets to a Dispatcher the way
// a worker's connection does (one packet, then the next from a promise reaction, a turn of the event loop every 64)
// and prints the CPU per message (all threads, so V8's compiler threads count) for the first N ("cold": what a
// W=4 worker pays for its 12.5k messages of a 50k run, JIT warm-up included) and, unless DISPATCH_COLD_ONLY is set,
// for a second N ("warm"). Same route, payloads and options as the bench app. No broker, no MQTT.js.
import type { IPublishPacket } from 'mqtt';
import { silentLogger } from '../../src/logger.js';
import { Dispatcher } from '../../src/message/dispatcher.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';

const N = Number(process.env['DISPATCH_N'] ?? 12_500);
let handled = 0;
const router = new Router().on(
  'bench/{n}',
  // eslint-disable-next-line @typescript-eslint/require-await -- async like the bench app's handler (it awaits in io mode)
  async (ctx) => {
    if ((ctx.payload as { ts: number }).ts > 0) handled++;
  },
  { shared: true, workerCount: 4, qos: 0 },
);
const table = compileRoutes(router, { defaultGroup: 'g' });
const subscriptionIdentifier = table.routes[0]?.subscriptionId;
let lastStart = 0;
const dispatcher = new Dispatcher({
  table,
  serves: () => true,
  ack: () => true,
  publish: () => Promise.resolve(),
  concurrency: 16,
  limits: { maxBytes: 256 * 1024, maxDepth: 64 },
  defaults: { timeoutMs: 30_000, maxAttempts: 3, retryBaseMs: 100, retryMaxMs: 1000, dlqPrefix: 'dlq' },
  logger: silentLogger(),
  onStart: (_afterQuiet, now) => (lastStart = now),
});

const topics = Array.from({ length: 100 }, (_, i) => `bench/${i}`);
const payloads = topics.map((_, i) => Buffer.from(JSON.stringify({ v: 21.5, i, ts: Date.now() })));
const RESOLVED = Promise.resolve();

async function feed(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    // A new packet object per message, as MQTT.js's parser makes one.
    const packet = {
      cmd: 'publish',
      topic: topics[i % 100],
      payload: payloads[i % 100],
      qos: 0,
      dup: false,
      retain: false,
      properties: { subscriptionIdentifier }, // each copy carries its subscription's identifier
    };
    const backlog = dispatcher.onPacket(packet as IPublishPacket, 1);
    if (backlog) await backlog;
    await RESOLVED;
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

const perMessage = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / N;
const c0 = process.cpuUsage();
await feed(0, N);
const cold = perMessage(process.cpuUsage(c0));
await new Promise((resolve) => setTimeout(resolve, 300)); // let the compiler threads finish
const c1 = process.cpuUsage();
if (!process.env['DISPATCH_COLD_ONLY']) await feed(N, 2 * N);
const warm = perMessage(process.cpuUsage(c1));
const expected = process.env['DISPATCH_COLD_ONLY'] ? N : 2 * N;
if (handled !== expected || lastStart === 0) throw new Error(`handled ${handled} of ${expected} messages`);
process.stdout.write(`${JSON.stringify({ coldUs: cold, warmUs: warm })}\n`);
