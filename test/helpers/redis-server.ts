import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './broker.js';

/** A private redis-server (no persistence) that a test may stop and start again on the same port. */
export interface TestRedis {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** TLS files for a TLS-only server (clients need no certificate of their own). */
export interface TestRedisTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export async function startTestRedis(tls?: TestRedisTls): Promise<TestRedis> {
  const port = await freePort();
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
    : ['--port', String(port)];
  const tlsCa = tls ? ['--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'] : [];
  let child: ChildProcess | undefined;
  const server: TestRedis = {
    port,
    async start() {
      const args = [...listen, ...tlsCa, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      child = spawn('redis-server', args, { stdio: 'ignore' });
      live.add(child);
      const deadline = Date.now() + 5000;
      while (!(await answers(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGKILL');
      await exited;
      live.delete(c);
    },
  };
  await server.start();
  return server;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
