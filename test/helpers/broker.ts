import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../../src/dev/mosquitto.js';
import type { MosquittoProcess } from '../../src/dev/mosquitto.js';

/**
 * A free TCP port on 127.0.0.1 for a server a test starts a moment later, chosen at random below the kernel's
 * ephemeral range. A port the OS hands out for `listen(0)` comes from that range, where every outgoing connection
 * of the machine (MQTT and Redis clients of parallel tests) also takes its local port: one of them could take it
 * before the server binds (seen as EADDRINUSE under load).
 */
export async function freePort(): Promise<number> {
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const low = 10_000;
  const high = Math.max(low + 1000, Number.isFinite(ephemeralLow) ? ephemeralLow : 32_768);
  for (let tries = 0; tries < 100; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${low}-${high} after 100 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
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
