import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../../src/dev/mosquitto.js';
import type { MosquittoProcess } from '../../src/dev/mosquitto.js';
import { freePort } from '../../test/helpers/broker.js';

/** The bench's private broker: loopback, no persistence, no queue or in-flight limits, TCP_NODELAY. */
export async function startBenchBroker(): Promise<MosquittoProcess & { url: string; dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-bench-'));
  const port = await freePort();
  const broker = await startMosquitto({
    port,
    dir,
    extra: [
      'persistence false',
      'max_queued_messages 0',
      'max_queued_bytes 0',
      'max_inflight_messages 0',
      'set_tcp_nodelay true',
      'log_type error',
    ],
  });
  return {
    ...broker,
    url: `mqtt://127.0.0.1:${port}`,
    async dispose() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
