import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, RouteMQError } from '../errors.js';

/** The Mosquitto configuration kept in the repo (also mounted by docker-compose.yml). */
export const MOSQUITTO_CONF_PATH = fileURLToPath(new URL('../../config/mosquitto.conf', import.meta.url));

/** Options of {@link startMosquitto}. */
export interface MosquittoOptions {
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** Directory for the rendered config, the persistence file and the log. Created when missing. */
  readonly dir: string;
  /** Lines appended to the config (they override earlier ones where Mosquitto allows). */
  readonly extra?: readonly string[];
  /** How long to wait for the port to accept connections. @defaultValue 5000 */
  readonly startTimeoutMs?: number;
}

/** A running Mosquitto owned by this process. */
export interface MosquittoProcess {
  readonly port: number;
  readonly pid: number;
  readonly configPath: string;
  readonly logPath: string;
  /** SIGTERM (Mosquitto saves its persistence file), SIGKILL after 5 s. Resolves on exit. Memoised. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Render the repo's mosquitto.conf for a local run: listener on 127.0.0.1:<port>, persistence under `dir`, log to
 * a file, and the `extra` lines last.
 */
export function renderMosquittoConfig(
  options: MosquittoOptions,
  base = readFileSync(MOSQUITTO_CONF_PATH, 'utf8'),
): string {
  const logPath = join(options.dir, 'mosquitto.log');
  const lines = base
    .split('\n')
    .filter((line) => !/^\s*(listener|persistence_location|log_dest)\b/.test(line))
    .concat([
      `listener ${options.port} 127.0.0.1`,
      `persistence_location ${options.dir}/`,
      `log_dest file ${logPath}`,
      // Started as root, Mosquitto drops to the 'mosquitto' user, which cannot write a private temp directory.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(options.extra ?? []),
    ]);
  return lines.join('\n') + '\n';
}

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Start a Mosquitto from the repo's config and wait until its port accepts connections.
 *
 * @throws RouteMQError `RMQ_ERR_DEV_BROKER_FAILED` when the binary is missing or the broker exits or never listens.
 */
export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoProcess> {
  mkdirSync(options.dir, { recursive: true });
  const configPath = join(options.dir, 'mosquitto.conf');
  writeFileSync(configPath, renderMosquittoConfig(options));
  const child = spawn('mosquitto', ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawnError) {
    throw new RouteMQError(ErrorCodes.DEV_BROKER_FAILED, `Could not run 'mosquitto': ${spawnError.message}`, {
      cause: spawnError,
    });
  }
  const deadline = Date.now() + (options.startTimeoutMs ?? 5000);
  while (!(await isPortOpen('127.0.0.1', options.port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = readLog(join(options.dir, 'mosquitto.log'));
      throw new RouteMQError(
        ErrorCodes.DEV_BROKER_FAILED,
        `Mosquitto did not start on port ${options.port}: ${(stderr + log).trim().slice(-500)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return makeHandle(child, exited, options.port, configPath, join(options.dir, 'mosquitto.log'));
}

function makeHandle(
  child: ChildProcess,
  exited: Promise<void>,
  port: number,
  configPath: string,
  logPath: string,
): MosquittoProcess {
  let stopping: Promise<void> | undefined;
  return {
    port,
    pid: child.pid ?? -1,
    configPath,
    logPath,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
