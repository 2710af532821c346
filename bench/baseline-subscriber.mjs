// The baseline: a plain MQTT.js subscriber on `$share/<group>/bench/+` that counts messages and acks on arrival
// (MQTT.js's default). In io mode it awaits 5 ms per message with unbounded concurrency: the unsafe design that
// NestJS and RouteMQ (Python) use, which loses the messages in hand on a crash.
import { createRequire } from 'node:module';
import { createCounter } from './lib/counter.mjs';

// `require`, not `import`: an ESM import of MQTT.js runs Node's export scanner over it, and V8 then optimises the
// scanner on a compiler thread for most of a second, into the measured window (BENCHMARKS.md, finding 13; RouteMQ's
// workers load it with require too).
const mqtt = createRequire(import.meta.url)('mqtt');
const env = process.env;
const counter = createCounter(env['BENCH_DIR'], 'baseline');
const ioMs = Number(env['BENCH_IO_MS'] ?? 0);
const client = await mqtt.connectAsync(env['BENCH_URL'], {
  clientId: `bench-baseline-${process.pid}`,
  protocolVersion: 5,
  clean: true,
  reconnectPeriod: 0,
});
client.on('message', (_topic, payload) => {
  const { ts } = JSON.parse(payload.toString());
  if (ioMs > 0) setTimeout(() => counter.hit(ts), ioMs);
  else counter.hit(ts);
});
await client.subscribeAsync(`$share/${env['BENCH_GROUP']}/bench/+`, {
  qos: Number(env['BENCH_QOS']),
});
process.send?.('ready');
process.on('message', () => void client.endAsync(true).then(() => process.exit(0)));
