import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../../src/dev/mosquitto.js';
import type { MosquittoProcess } from '../../src/dev/mosquitto.js';

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A Mosquitto started for one test file from config/mosquitto.conf, on a free port, in a temp dir. */
export interface TestBroker extends MosquittoProcess {
  readonly dir: string;
  readonly url: string;
  /** Start again on the same port and data dir (after {@link MosquittoProcess.stop}). */
  restart(): Promise<TestBroker>;
  /** Stop and delete the data dir. */
  dispose(): Promise<void>;
}

/** Start a private broker. Extra config lines (ACLs, queue limits) go last. */
export async function startTestBroker(
  extra: readonly string[] = [],
  existing?: { port: number; dir: string },
): Promise<TestBroker> {
  const port = existing?.port ?? (await freePort());
  const dir = existing?.dir ?? mkdtempSync(join(tmpdir(), 'routemq-broker-'));
  const proc = await startMosquitto({ port, dir, extra });
  const broker: TestBroker = {
    ...proc,
    stop: (signal) => proc.stop(signal),
    dir,
    url: `mqtt://127.0.0.1:${port}`,
    restart: () => startTestBroker(extra, { port, dir }),
    dispose: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return broker;
}
