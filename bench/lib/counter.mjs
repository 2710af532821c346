// Counts messages in a benchmark process (baseline subscriber or RouteMQ handler alike) and writes the count to
// `<dir>/<name>-<pid>.json` from a timer, so counting costs one increment per message and no I/O.
// Plain JavaScript, so that the baseline runs without tsx (its memory is then that of a plain MQTT.js process).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SAMPLES = 20_000;

export function createCounter(dir, name) {
  let count = 0;
  let firstAt = 0;
  let lastAt = 0;
  const latencies = [];
  const file = join(dir, `${name}-${process.pid}.json`);
  let flushedCount = -1;
  // Counts every 50 ms; the (large) latency sample only once the count has stopped moving, so that serialising it
  // does not slow the run it measures.
  const flush = () => {
    const quiet = count === flushedCount;
    flushedCount = count;
    // Write then rename: a reader never sees a half-written file.
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ pid: process.pid, count, firstAt, lastAt, latencies: quiet ? latencies : [] }),
    );
    renameSync(`${file}.tmp`, file);
  };
  setInterval(flush, 50).unref();
  process.once('exit', flush);
  flush();
  return {
    hit(sentAt) {
      const now = performance.timeOrigin + performance.now();
      if (count === 0) firstAt = now;
      lastAt = now;
      count++;
      if (sentAt !== undefined) {
        if (latencies.length < MAX_SAMPLES) latencies.push(now - sentAt);
        else latencies[Math.floor(Math.random() * count) % MAX_SAMPLES] = now - sentAt;
      }
    },
  };
}
