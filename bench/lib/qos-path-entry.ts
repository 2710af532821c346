// The subscriber process of `npm run bench:dispatch`'s QoS path measurement, fresh each time: it connects to the
// stand-in broker (bench/lib/fake-broker.mjs, another process, on BENCH_PORT) and takes BENCH_N messages at
// BENCH_QOS, the whole way from the socket through MQTT.js's parser and handleMessage to the PUBACK bytes written.
// BENCH_SIDE picks who subscribes:
//   routemq   a Consumer, as a worker runs it (connection, dispatcher, route runner, ack sequencer; the route of the
//             bench app: `bench/{n}`, shared, the handler counts the parsed payload)
//   floor     plain MQTT.js with RouteMQ's delivery semantics (as bench/floor-subscriber.mjs)
//   baseline  plain MQTT.js acking on arrival (as bench/baseline-subscriber.mjs)
// With BENCH_INPROC set, the stand-in broker runs in this process (bench/lib/stand-in-broker.mjs) instead, for a
// repeatable instruction count (`--inproc`): it sends once a line `go` comes on stdin, and the JSON also gives the
// PUBACKs it received.
// It prints `ready` once subscribed, then the CPU per message (all threads) as JSON once every message was handled
// and its ack written, and exits; with BENCH_HOLD set, only when its stdin closes (so that `callgrind_control` can
// dump the counts of exactly that window first).
import mqtt from 'mqtt';
import { loadConfig } from '../../src/config/load-config.js';
import { workerClientId } from '../../src/consumer/client-ids.js';
import { Consumer } from '../../src/consumer/consumer.js';
import { silentLogger } from '../../src/logger.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import { startStandInBroker } from './stand-in-broker.mjs';

const env = process.env;
const N = Number(env['BENCH_N']);
const qos = Number(env['BENCH_QOS']) as 0 | 1;
const inproc = env['BENCH_INPROC']
  ? await startStandInBroker({ n: Number(env['BENCH_N']), qos: Number(env['BENCH_QOS']) })
  : undefined;
const port = inproc?.port ?? Number(env['BENCH_PORT']);
const side = env['BENCH_SIDE'] ?? 'routemq';
let handled = 0;
let allHandled: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (allHandled = resolve));
const count = (ts: number): void => {
  if (ts > 0 && ++handled === N) allHandled();
};

let stop: () => Promise<void>;
if (side === 'routemq') {
  const router = new Router().on(
    'bench/{n}',
    // eslint-disable-next-line @typescript-eslint/require-await -- async like the bench app's handler
    async (ctx) => count((ctx.payload as { ts: number }).ts),
    { shared: true, workerCount: 2, qos },
  );
  const config = loadConfig({
    env: { MQTT_BROKER: '127.0.0.1', MQTT_PORT: String(port), MQTT_SESSION_EXPIRY_S: '1' },
    envFile: false,
  });
  const table = compileRoutes(router, { defaultGroup: 'bench' });
  const consumer = new Consumer({
    config,
    table,
    routes: table.routes,
    // As a worker of the bench app's pool: a client id that names its one subscription, so no identifier; with
    // BENCH_TAGGED (`--tagged`), an id that does not, so the subscription carries one (as before finding 22).
    clientId: env['BENCH_TAGGED']
      ? 'bench-qos-path'
      : workerClientId(
          config,
          'bench-any',
          0,
          table.routes.map((r) => r.mqttTopic),
        ),
    untagged: true,
    logger: silentLogger(),
  });
  await consumer.start();
  stop = () => consumer.stop();
} else {
  const floor = side === 'floor';
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: `bench-qos-path-${side}`,
    protocolVersion: 5,
    clean: !floor,
    reconnectPeriod: 0,
    ...(floor ? { properties: { sessionExpiryInterval: 1, receiveMaximum: 256 } } : {}),
  });
  if (floor) {
    client.handleMessage = (packet, done) => {
      count((JSON.parse(packet.payload.toString()) as { ts: number }).ts);
      done();
    };
  } else {
    client.on('message', (_topic, payload) => count((JSON.parse(payload.toString()) as { ts: number }).ts));
  }
  await client.subscribeAsync('$share/bench/bench/+', { qos });
  stop = () => client.endAsync().then(() => undefined);
}
// From here on (connected and subscribed) to the last ack written.
process.stdout.write('ready\n');
if (inproc) {
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      if (!chunk.toString().includes('go')) return;
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve();
    };
    process.stdin.on('data', onData);
  });
  inproc.go();
}
const c0 = process.cpuUsage();
await finished;
// The last acks leave when the current turn's batch is flushed (RouteMQ) or on the next tick (MQTT.js).
await new Promise((resolve) => setImmediate(resolve));
await new Promise((resolve) => setImmediate(resolve));
const usage = process.cpuUsage(c0);
// In-process, wait (turns of the event loop, no timers) until the broker has read the last acks.
for (let turns = 0; inproc && qos === 1 && inproc.acked() < N && turns < 100_000; turns++) {
  await new Promise((resolve) => setImmediate(resolve));
}
const acked = inproc?.acked();
process.stdout.write(`${JSON.stringify({ side, n: N, cpuUs: (usage.user + usage.system) / N, acked })}\n`);
if (env['BENCH_HOLD']) {
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
}
await stop();
process.exit(0);
