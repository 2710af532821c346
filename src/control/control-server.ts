import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { ErrorCodes, errorCodeOf, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseControlRequest } from './protocol.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

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

  /** Listen. A socket file left by a dead process is removed; one owned by a live process is an error. */
  async start(): Promise<void> {
    mkdirSync(dirname(this.#path), { recursive: true });
    if (existsSync(this.#path)) {
      if (await answers(this.#path)) {
        throw new Error(`Another routemq instance is listening on ${this.#path}; set ROUTEMQ_CONTROL_SOCKET`);
      }
      unlinkSync(this.#path);
    }
    const server = createServer((socket) => this.#serve(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
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
    this.#log.info({ cmd: request.cmd }, 'control request');
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
