import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** A TCP proxy for fault tests: forwards to a target, and can stall (stop forwarding) and reset every link. */
export interface TcpProxy {
  readonly port: number;
  /** Stop forwarding in both directions, keeping the sockets open (a black hole, like a cut cable). */
  stall(): void;
  /** Destroy every link (the peers see a reset) and forward again for new connections. */
  reset(): void;
  close(): Promise<void>;
}

/** Start a proxy on a free 127.0.0.1 port to `targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const links = new Set<{ client: Socket; upstream: Socket }>();
  let stalled = false;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const link = { client, upstream };
    links.add(link);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!stalled) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const drop = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    // A peer that closes gracefully gets a graceful close on the other side too: end() sends what was already
    // written (the last acks before a DISCONNECT, say) before the FIN, where destroy() would throw it away.
    const settle = (): void => {
      links.delete(link);
      client.end();
      upstream.end();
    };
    client.on('error', drop).on('close', settle);
    upstream.on('error', drop).on('close', settle);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stall: () => void (stalled = true),
    reset: () => {
      for (const { client, upstream } of links) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      links.clear();
      stalled = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of links) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
