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
  // allowHalfOpen on both legs: a FIN passes through like the bytes before it. A client that ends its side (after
  // a DISCONNECT) sees its socket close only once the broker has closed its own side, that is, once the broker has
  // read everything up to the DISCONNECT, as on a direct connection. Without it the proxy answered the client's FIN at
  // once, the client's `end()` resolved while its last acks were still on their way, and a direct connect under the
  // same client id could take the session over before the broker had read them (seen as 18 of 20 acks lost).
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    const link = { client, upstream };
    links.add(link);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!stalled) to.write(chunk);
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    const drop = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
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
