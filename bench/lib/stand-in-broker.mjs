// The stand-in MQTT broker of `npm run bench:dispatch`'s QoS path measurement. It runs in a process of its own
// (bench/lib/fake-broker.mjs, so valgrind counts only the subscriber) or, with `--inproc`, inside the subscriber's
// process, so that one callgrind run with V8's --single-threaded --predictable sees a repeatable sequence of reads
// (apart, the TCP reads, and so what V8 compiles when, differ from run to run; BENCHMARKS.md finding 22). Every
// PUBLISH is generated once, after the SUBSCRIBE and before the first is sent, so the broker's share of the window
// is only its socket writes, the same for every side.
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

// mqtt-packet is MQTT.js's own codec; resolve it from MQTT.js, whose dependency it is.
const require = createRequire(createRequire(import.meta.url).resolve('mqtt'));
const mqttPacket = require('mqtt-packet');

/**
 * Listen on 127.0.0.1 and serve one subscriber `n` messages `{"v":21.5,"i":…,"ts":1}` round-robin over
 * `bench/0`…`bench/99` at `qos`, at QoS1 never more unacked than its receive maximum, each tagged with its
 * subscription identifier if it had one.
 *
 * Nothing is sent before `go()`. `onSubscribed` runs after the SUBACK is written, `onClose` when the subscriber's
 * connection closes.
 *
 * @returns `{ port, acked, go }`: `acked()` is the PUBACKs received so far.
 */
export async function startStandInBroker({ n, qos, onSubscribed = () => undefined, onClose = () => undefined }) {
  let acked = 0;
  let started = false;
  let start = () => undefined;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let opts = { protocolVersion: 5 };
    let window = 65535;
    let packets = [];
    let sent = 0;
    let waitingForDrain = false;
    const pump = () => {
      if (!started || packets.length === 0 || waitingForDrain) return;
      const batch = [];
      while (sent < n && (qos === 0 || sent - acked < window) && batch.length < 512) batch.push(packets[sent++]);
      if (batch.length === 0) return;
      if (socket.write(Buffer.concat(batch))) setImmediate(pump);
      else {
        waitingForDrain = true;
        socket.once('drain', () => {
          waitingForDrain = false;
          pump();
        });
      }
    };
    parser.on('packet', (packet) => {
      switch (packet.cmd) {
        case 'connect':
          opts = { protocolVersion: packet.protocolVersion };
          window = packet.properties?.receiveMaximum ?? 65535;
          socket.write(
            mqttPacket.generate({ cmd: 'connack', sessionPresent: false, reasonCode: 0, returnCode: 0 }, opts),
          );
          break;
        case 'subscribe': {
          const subscriptionIdentifier = process.env.BENCH_UNTAGGED
            ? undefined
            : packet.properties?.subscriptionIdentifier;
          packets = Array.from({ length: n }, (_, i) =>
            mqttPacket.generate(
              {
                cmd: 'publish',
                topic: `bench/${i % 100}`,
                payload: `{"v":21.5,"i":${i},"ts":1}`,
                qos,
                messageId: qos > 0 ? (i % 65535) + 1 : undefined,
                ...(subscriptionIdentifier !== undefined ? { properties: { subscriptionIdentifier } } : {}),
              },
              opts,
            ),
          );
          const granted = packet.subscriptions.map((s) => s.qos);
          socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId, granted }, opts));
          start = pump;
          onSubscribed();
          break;
        }
        case 'puback':
          acked++; // the window reopens once the whole read is parsed (below), as a broker's event loop does
          break;
        case 'pingreq':
          socket.write(mqttPacket.generate({ cmd: 'pingresp' }, opts));
          break;
        case 'disconnect':
          socket.end();
          break;
      }
    });
    socket.on('data', (chunk) => {
      parser.parse(chunk);
      pump();
    });
    socket.on('error', () => undefined);
    socket.on('close', onClose);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const go = () => {
    started = true;
    start();
  };
  return { port: server.address().port, acked: () => acked, go };
}
