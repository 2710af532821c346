// A stand-in MQTT broker for `npm run bench:dispatch`'s QoS path measurement: it runs in a process of its own (so
// valgrind counts only the subscriber), takes one connection, answers CONNECT and SUBSCRIBE, then sends BENCH_N
// PUBLISHes `{"v":21.5,"i":…,"ts":…}` round-robin over `bench/0`…`bench/99` at BENCH_QOS, as Mosquitto would: at
// QoS1 never more unacked than the client's receive maximum, each tagged with the subscription's identifier if it
// had one. It reports over IPC `{ port }` once listening, then `{ acked }` (PUBACKs received) when the client leaves.
// With BENCH_HOLD set, it reports `{ subscribed: true }` after the SUBACK and waits for a `go` message to send.
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

// mqtt-packet is MQTT.js's own codec; resolve it from MQTT.js, whose dependency it is.
const require = createRequire(createRequire(import.meta.url).resolve('mqtt'));
const mqttPacket = require('mqtt-packet');

const n = Number(process.env['BENCH_N']);
const qos = Number(process.env['BENCH_QOS']);
const hold = Boolean(process.env['BENCH_HOLD']);

const server = createServer((socket) => {
  socket.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let opts = { protocolVersion: 5 };
  let window = 65535;
  let subscriptionIdentifier;
  let sent = 0;
  let acked = 0;
  let streaming = false;
  let waitingForDrain = false;
  const pump = () => {
    if (!streaming || waitingForDrain) return;
    const batch = [];
    while (sent < n && (qos === 0 || sent - acked < window) && batch.length < 512) {
      const i = sent++;
      batch.push(
        mqttPacket.generate(
          {
            cmd: 'publish',
            topic: `bench/${i % 100}`,
            payload: `{"v":21.5,"i":${i},"ts":${Date.now()}}`,
            qos,
            messageId: qos > 0 ? (i % 65535) + 1 : undefined,
            ...(subscriptionIdentifier !== undefined ? { properties: { subscriptionIdentifier } } : {}),
          },
          opts,
        ),
      );
    }
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
          mqttPacket.generate(
            packet.protocolVersion === 5
              ? { cmd: 'connack', sessionPresent: false, reasonCode: 0 }
              : { cmd: 'connack', sessionPresent: false, returnCode: 0 },
            opts,
          ),
        );
        break;
      case 'subscribe':
        subscriptionIdentifier = packet.properties?.subscriptionIdentifier;
        socket.write(
          mqttPacket.generate(
            { cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) },
            opts,
          ),
        );
        if (hold) {
          process.send?.({ subscribed: true });
          process.once('message', () => {
            streaming = true;
            pump();
          });
        } else {
          streaming = true;
          pump();
        }
        break;
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
  socket.on('close', () => {
    process.send?.({ acked });
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
