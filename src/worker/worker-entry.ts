// The main module of a worker process (compiled into the worker bundle, forked by WorkerManager). It waits for its
// assignment over IPC, loads the same route files as the parent, serves only its pool's routes on its own
// connection, and reports ready / heartbeat / stats back. It exits when told to, or when the parent goes away.
import { fromTransferable } from '../config/transfer.js';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorMessageOf, isRouteMQError } from '../errors.js';
import { createLogger } from '../logger.js';
import type { Logger } from '../logger.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import { Consumer } from '../consumer/consumer.js';
import { WorkerExitCodes, isParentMessage } from './ipc.js';
import type { ParentMessage, WorkerAssignment, WorkerMessage } from './ipc.js';
import { planPools } from './pools.js';
import { LoadMeter } from './load-meter.js';
import { RuntimeMeter } from '../util/runtime-meter.js';
import { provideSharedRedis, stopSharedRedis } from '../redis/shared-redis.js';
import type { DeadLetterSink } from '../message/dead-letter-writer.js';
import type { StoreResult } from '../dlq/store.js';
import { reportRedeliveries } from './redelivery-report.js';

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

/** Send, and resolve once the message is written to the channel (or there is none): safe before `process.exit`. */
function sendAndFlush(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, () => resolve());
  });
}

function waitForAssignment(): Promise<WorkerAssignment> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (isParentMessage(message) && message.type === 'config') {
        process.off('message', onMessage);
        resolve(message);
      }
    };
    process.on('message', onMessage);
  });
}

type ShutdownMessage = Extract<ParentMessage, { type: 'shutdown' }>;

// A stop asked for while the worker is still starting (the parent stops or scales down during a start): without
// these listeners the request would be lost, and the worker would serve on until the parent's SIGTERM escalation,
// or forever as an orphan if the parent died. Honoured as soon as the worker serves.
let earlyStop: { readonly message?: ShutdownMessage } | undefined;
const onEarlyMessage = (message: unknown): void => {
  if (isParentMessage(message) && message.type === 'shutdown') earlyStop ??= { message };
};
const onEarlyDisconnect = (): void => {
  earlyStop ??= {};
};
process.on('message', onEarlyMessage);
process.on('disconnect', onEarlyDisconnect);

/**
 * Reports every message in hand (not only the oldest three of a heartbeat), set once the consumer runs: an
 * uncaught exception is a death with those messages in hand, and this says which ones before the process exits.
 */
let lastWords: (() => void) | undefined;

function fail(err: unknown, logger: Logger | undefined): never {
  const code = isRouteMQError(err) ? err.code : 'RMQ_ERR_HANDLER_FAILED';
  logger?.error({ code, err }, `worker failed: ${errorMessageOf(err)}`);
  send({ type: 'failed', code, message: errorMessageOf(err) });
  process.exit(isRouteMQError(err, 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER') ? WorkerExitCodes.sessionTakenOver : 1);
}

async function main(): Promise<void> {
  // No IPC channel means someone ran this file by hand.
  if (!process.send) throw new RouteMQError(ErrorCodes.INTERNAL, 'worker-entry must be started by WorkerManager');
  const assignment = await waitForAssignment();
  let logger: Logger | undefined;
  try {
    const config = fromTransferable(assignment.config);
    logger = createLogger({
      level: config.log.level,
      ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}),
      base: { pool: assignment.pool, slot: assignment.slot },
    });
    const redisLogger = logger;
    // Created on first use (a rateLimit middleware), so workers that never touch Redis never load ioredis.
    if (config.redis.enabled) {
      provideSharedRedis(async () => {
        const { RedisManager } = await import('../redis/redis-manager.js');
        const redis = new RedisManager(config, redisLogger);
        redis.start();
        return redis;
      });
    }
    const table = compileRoutes(await loadRouteFiles(assignment.routersDir ?? config.routemq.routersDir), {
      defaultGroup: config.mqtt.groupName,
    });
    const pools = planPools(table, config.routemq.concurrency);
    if (assignment.checkOnly) {
      send({ type: 'checked', routes: table.routes.map((r) => r.pattern) });
      process.exit(0);
    }
    const pool = pools.find((p) => p.name === assignment.pool);
    if (!pool)
      throw new RouteMQError(ErrorCodes.POOL_NOT_FOUND, `The route files no longer declare pool '${assignment.pool}'`);
    await serve(assignment, config, table, pool.routes, logger);
  } catch (err) {
    fail(err, logger);
  }
}

async function serve(
  assignment: WorkerAssignment,
  config: ResolvedConfig,
  table: ReturnType<typeof compileRoutes>,
  routes: Parameters<typeof planPools>[0]['routes'],
  logger: Logger,
): Promise<void> {
  let lastBeat = 0;
  const beat = (now = Date.now()): void => {
    lastBeat = now;
    send({ type: 'heartbeat', inFlight: consumer.inFlight, inHand: consumer.inHand(), sentAt: lastBeat });
  };
  const consumer = new Consumer({
    config,
    table,
    routes,
    clientId: assignment.clientId,
    // A worker's client id names its pool's subscriptions: a single-filter pool subscribes without an identifier.
    untagged: true,
    logger,
    concurrency: assignment.concurrency,
    origin: { instance: config.routemq.instanceId, pool: assignment.pool, slot: assignment.slot },
    ...(assignment.storesDeadLetters ? { deadLetters: parentDeadLetterSink() } : {}),
    redelivered: reportRedeliveries(send, assignment.crashed ?? [], config.routemq.maxCrashes),
    // Report the message in hand as a run starts after a quiet spell, or when a beat is due: if this handler
    // blocks the event loop, the parent can still name the message it was stuck on.
    onDeadLetter: (info) => send({ type: 'message.dead_lettered', ...info }),
    onStart: (afterQuiet, now) => {
      if (afterQuiet || now - lastBeat >= assignment.heartbeatIntervalMs) beat(now);
    },
  });
  consumer.on('fatal', (err: RouteMQError) => fail(err, logger));
  lastWords = () =>
    send({ type: 'heartbeat', inFlight: consumer.inFlight, inHand: consumer.inHand(Infinity), sentAt: Date.now() });
  const { sessionPresent } = await consumer.start();
  send({ type: 'ready', pid: process.pid, sessionPresent });
  logger.info({ clientId: assignment.clientId, sessionPresent, routes: routes.map((r) => r.pattern) }, 'worker ready');

  const meter = new LoadMeter(assignment.concurrency, consumer.stats());
  const runtime = new RuntimeMeter();
  runtime.start();
  const sendStats = (): void => {
    const stats = consumer.stats();
    send({
      type: 'stats',
      stats,
      memoryRssBytes: process.memoryUsage.rss(),
      load: meter.measure(stats),
      runtime: runtime.sample(),
    });
  };
  const timer = setInterval(() => {
    beat();
    sendStats();
  }, assignment.heartbeatIntervalMs);

  const stop = async (message: ShutdownMessage | undefined): Promise<void> => {
    clearInterval(timer);
    runtime.stop();
    const mode = message?.mode ?? 'stop';
    send({ type: 'stopping', mode });
    await consumer.stop({
      endSession: mode === 'leave',
      timeoutMs: message?.timeoutMs ?? config.routemq.shutdownTimeoutMs,
    });
    sendStats();
    await stopSharedRedis();
    // The parent removes the session's registry record once this worker has exited cleanly after saying so.
    if (consumer.endedSession) await sendAndFlush({ type: 'session.ended' });
    process.exit(WorkerExitCodes.ok);
  };
  let stopping = false;
  const stopOnce = (message?: ShutdownMessage): void => {
    if (stopping) return;
    stopping = true;
    // Last resort: whatever the drain is waiting for, a worker never outlives its stop by long (an orphan whose
    // parent died must not linger).
    const deadlineMs = (message?.timeoutMs ?? config.routemq.shutdownTimeoutMs) + 2 * config.routemq.killTimeoutMs;
    setTimeout(() => process.exit(WorkerExitCodes.failed), deadlineMs).unref();
    void stop(message);
  };
  process.on('message', (message: unknown) => {
    if (isParentMessage(message) && message.type === 'shutdown') stopOnce(message);
  });
  // The parent died or closed the channel, or sent SIGTERM (its escalation step): stop, keeping the session.
  process.on('disconnect', () => stopOnce());
  process.on('SIGTERM', () => stopOnce());
  // A terminal's Ctrl-C reaches the whole process group; the parent decides what the workers do.
  process.on('SIGINT', () => undefined);
  process.off('message', onEarlyMessage);
  process.off('disconnect', onEarlyDisconnect);
  if (earlyStop) stopOnce(earlyStop.message);
  else if (!process.connected) stopOnce();
}

/**
 * The parent owns the dead-letter store: ask it over IPC and wait for its answer. Without a channel (the parent
 * is gone), the put fails and the message stays unacked, to be redelivered.
 */
function parentDeadLetterSink(): DeadLetterSink {
  const waiting = new Map<number, (result: StoreResult) => void>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isParentMessage(message) || message.type !== 'dlq.stored') return;
    waiting.get(message.requestId)?.(message.result);
    waiting.delete(message.requestId);
  });
  process.on('disconnect', () => {
    for (const resolve of waiting.values()) resolve(noParent());
    waiting.clear();
  });
  return (envelope) =>
    new Promise((resolve) => {
      if (!process.connected) return resolve(noParent());
      const requestId = ++next;
      waiting.set(requestId, resolve);
      send({ type: 'dlq.put', requestId, envelope });
    });
}

function noParent(): StoreResult {
  return { ok: false, code: 'RMQ_ERR_DLQ_STORE_FAILED', message: 'The parent process (the dead-letter store) is gone' };
}

// An exception outside any handler (a timer callback, an event listener) ends the process: a death with the
// messages in hand, which are reported first (the parent counts them, see redelivery-report.ts). The exit waits
// until the IPC channel took the last message, and no longer than a second.
process.on('uncaughtException', (err) => {
  try {
    lastWords?.();
  } catch {
    // Nothing more can be reported; exit all the same.
  }
  process.stderr.write(`worker ${process.pid} uncaught exception: ${err.stack ?? err.message}\n`);
  const failed: WorkerMessage = {
    type: 'failed',
    code: 'RMQ_ERR_HANDLER_FAILED',
    message: `uncaught: ${errorMessageOf(err)}`,
  };
  setTimeout(() => process.exit(1), 1000);
  if (process.connected && process.send) process.send(failed, () => process.exit(1));
  else process.exit(1);
});

void main().catch((err: unknown) => fail(err, undefined));
