// The floor for RouteMQ's own delivery semantics, in plain MQTT.js: what at-least-once with a persistent v5 session
// costs before any framework. A fixed client id, `clean: false`, a session expiry and receive maximum 256 (as
// RouteMQ's workers connect); each payload is parsed with JSON.parse, and the PUBACK goes out from handleMessage's
// done() after that work (MQTT.js writes it), so a crash before done() leaves the message unacked. No subscription
// identifier, no ordering or epoch bookkeeping of its own: MQTT.js's serial pipeline gives both for free, at the
// price of holding the pipeline for the length of the handler (which RouteMQ must not do; DELIVERY.md).
import { createRequire } from 'node:module';
import { createCounter } from './lib/counter.mjs';

// `require`, not `import`: an ESM import of MQTT.js runs Node's export scanner over it, and V8 then optimises the
// scanner on a compiler thread for most of a second, into the measured window (BENCHMARKS.md, finding 13; RouteMQ's
// workers load it with require too).
const mqtt = createRequire(import.meta.url)('mqtt');
const env = process.env;
const counter = createCounter(env['BENCH_DIR'], 'floor');
const client = await mqtt.connectAsync(env['BENCH_URL'], {
  clientId: env['BENCH_CLIENT_ID'],
  protocolVersion: 5,
  clean: false,
  reconnectPeriod: 0,
  // 1 s, as the RouteMQ side: a finished run's session must not keep queueing copies of later runs' messages.
  properties: { sessionExpiryInterval: 1, receiveMaximum: 256 },
});
client.handleMessage = (packet, done) => {
  const { ts } = JSON.parse(packet.payload.toString());
  counter.hit(ts);
  done();
};
await client.subscribeAsync(`$share/${env['BENCH_GROUP']}/bench/+`, {
  qos: Number(env['BENCH_QOS']),
});
process.send?.('ready');
process.on('message', () => void client.endAsync(true).then(() => process.exit(0)));
