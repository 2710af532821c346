import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';

/** The logger type RouteMQ uses everywhere: a pino logger. */
export type Logger = PinoLogger;

/** Options of {@link createLogger}. */
export interface LoggerCreateOptions {
  /** @defaultValue 'info' */
  level?: string;
  /** Pretty output (pino-pretty). @defaultValue true when stdout is a TTY */
  pretty?: boolean;
  /** Fields bound to every line. */
  base?: Record<string, unknown>;
  /** Write to stderr instead of stdout (a command whose stdout is its answer). @defaultValue false */
  stderr?: boolean;
}

/**
 * Paths that never reach a log line, whatever an object holds. Secrets are also kept out of the objects that get
 * logged; this is the second line of defence.
 */
const REDACT_PATHS = [
  'password',
  'mqttPassword',
  '*.password',
  '*.mqttPassword',
  'config.mqttPassword',
  'redisPassword',
  '*.redisPassword',
  'token',
  '*.token',
];

/**
 * Create the process logger: JSON lines by default, pretty on a TTY.
 */
export function createLogger(options: LoggerCreateOptions = {}): Logger {
  const out = options.stderr ? process.stderr : process.stdout;
  const pretty = options.pretty ?? out.isTTY;
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid, ...options.base },
  };
  if (pretty) {
    return pino({
      ...pinoOptions,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ...(options.stderr ? { destination: 2 } : {}) },
      },
    });
  }
  return options.stderr ? pino(pinoOptions, process.stderr) : pino(pinoOptions);
}

/** A logger that drops everything; for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
