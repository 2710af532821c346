// Publishes BENCH_N messages `{"v":21.5,"ts":…}` round-robin over 100 topics `bench/<k>`, as fast as the broker
// takes them (a window of unacked QoS1 publishes) or at BENCH_RATE messages per second.
import mqtt from 'mqtt';

const env = process.env;
const n = Number(env['BENCH_N']);
const qos = Number(env['BENCH_QOS']);
const rate = Number(env['BENCH_RATE'] ?? 0);
const window = 500;
const client = await mqtt.connectAsync(env['BENCH_URL'], {
  clientId: `bench-pub-${process.pid}`,
  protocolVersion: 5,
  reconnectPeriod: 0,
});

// Each publish is its own small write; with Nagle on, a write waits for the TCP ack of the previous one, which adds
// the kernel's delayed-ack time to some messages' latency (both sides alike, but it is not theirs to measure).
client.stream.setNoDelay?.(true);

const started = performance.timeOrigin + performance.now();
let sent = 0;
let acked = 0;
await new Promise((resolve) => {
  const pump = () => {
    const due =
      rate > 0
        ? Math.min(n, Math.floor(((performance.timeOrigin + performance.now() - started) * rate) / 1000) + 1)
        : n;
    while (sent < due && sent - acked < window) {
      const i = sent++;
      const payload = `{"v":21.5,"i":${i},"ts":${performance.timeOrigin + performance.now()}}`;
      client.publish(`bench/${i % 100}`, payload, { qos }, () => {
        acked++;
        if (acked === n) resolve();
        else if (rate === 0) pump();
      });
    }
    if (rate > 0 && sent < n) setTimeout(pump, 1);
  };
  pump();
});
process.send?.({ startedAt: started, finishedAt: performance.timeOrigin + performance.now(), sent, acked });
await client.endAsync();
process.exit(0);
