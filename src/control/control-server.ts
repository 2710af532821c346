import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf } from '../errors.js';
import { ensureWritableDir, stateDirError } from '../util/state-dir.js';
import type { Logger } from '../logger.js';
import { parseControlRequest } from './protocol.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

const SOCKET_HINT = "Set ROUTEMQ_CONTROL_SOCKET to a path in a directory RouteMQ may write to, or to 'none'.";

/** Runs one control request; throws to answer with an error. */
export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/**
 * The local control socket of a running `routemq start` (a Unix socket, `ROUTEMQ_CONTROL_SOCKET`): `routemq
 * reload|stop|scale|worker restart|status` talk to it with one JSON line each way. Only local users with access
 * to the socket file can reach it (mode 0600 by the umask of the process owner's directory).
 */
export class ControlServer {
  readonly #path: string;
  readonly #handler: ControlHandler;
  readonly #log: Logger;
  #server: Server | undefined;
  #stopPromise: Promise<void> | undefined;

  constructor(path: string, handler: ControlHandler, logger: Logger) {
    this.#path = path;
    this.#handler = handler;
    this.#log = logger;
  }

  get path(): string {
    return this.#path;
  }

  /**
   * Listen. A socket file left by a dead process is removed; one owned by a live process is an error.
   *
   * @throws RouteMQError `RMQ_ERR_CONTROL_SOCKET_IN_USE` when another live instance listens on the path;
   *   `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when its directory cannot be created or written.
   */
  async start(): Promise<void> {
    const dir = dirname(this.#path);
    ensureWritableDir(dir, 'the control socket', SOCKET_HINT);
    if (existsSync(this.#path)) {
      if (await answers(this.#path)) {
        throw new RouteMQError(
          ErrorCodes.CONTROL_SOCKET_IN_USE,
          `Another routemq instance is listening on ${this.#path}; stop it, or give this one its own ` +
            'ROUTEMQ_CONTROL_SOCKET (or none)',
        );
      }
      try {
        unlinkSync(this.#path);
      } catch (err) {
        throw stateDirError(dir, 'the control socket', err, SOCKET_HINT) ?? err;
      }
    }
    const server = createServer((socket) => this.#serve(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(stateDirError(dir, 'the control socket', err, SOCKET_HINT) ?? err));
      server.listen(this.#path, () => resolve());
    });
  }

  /** Close the socket and remove its file. Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= new Promise<void>((resolve) => {
      if (!this.#server) return resolve();
      this.#server.close(() => resolve());
      this.#server.unref();
    });
    return this.#stopPromise;
  }

  #serve(socket: Socket): void {
    const lines = createInterface({ input: socket });
    lines.once('line', (line) => {
      lines.close();
      void this.#answer(line).then((response) => socket.end(JSON.stringify(response) + '\n'));
    });
    socket.on('error', () => undefined);
  }

  async #answer(line: string): Promise<ControlResponse> {
    const request = parseControlRequest(line);
    if (!request) return { ok: false, error: { code: ErrorCodes.CONTROL_INVALID, message: 'not a control request' } };
    // Debug: `routemq status --watch` asks every second.
    this.#log.debug({ cmd: request.cmd }, 'control request');
    try {
      return { ok: true, result: await this.#handler(request) };
    } catch (err) {
      return { ok: false, error: { code: errorCodeOf(err), message: errorMessageOf(err) } };
    }
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
