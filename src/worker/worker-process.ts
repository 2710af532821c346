import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { LifecycleEvents, WorkerRef } from '../events.js';
import type { Logger } from '../logger.js';
import type { InHandMessage } from '../message/dispatcher.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import type { WorkerLoad } from './load-meter.js';
import { StatsWindow } from '../message/stats-window.js';
import type { RuntimeSample } from '../util/runtime-meter.js';
import type { DeadLetterSink } from '../message/dead-letter-writer.js';
import { isWorkerMessage } from './ipc.js';
import type { ShutdownMode, WorkerAssignment, WorkerMessage } from './ipc.js';
import { ExitRecorder, notReadyError } from './worker-exit.js';
import type { WorkerExit } from './worker-exit.js';

/** Lifecycle state of one worker process. */
export type WorkerState = 'starting' | 'ready' | 'draining' | 'stuck' | 'dead';

/** How long an exit waits for the worker's last IPC messages (sent before it died) to be read, in ms. */
const LAST_MESSAGES_WAIT_MS = 1000;

/** Timing options of {@link WorkerProcess}. */
export interface WorkerTimings {
  readonly heartbeatIntervalMs: number;
  /** No heartbeat for this long while ready → SIGKILL. */
  readonly stuckTimeoutMs: number;
  /** No `ready` within this long → SIGKILL, counted as a failed start. */
  readonly startTimeoutMs: number;
  /** After asking a worker to stop: SIGTERM past its drain deadline + this, SIGKILL this much later again. */
  readonly killTimeoutMs: number;
}

/** Events of {@link WorkerProcess}: two lifecycle events under their one name, its counters, and its exit. */
export interface WorkerProcessEvents {
  'worker.stuck': [LifecycleEvents['worker.stuck']];
  'message.dead_lettered': [LifecycleEvents['message.dead_lettered']];
  /** A redelivered message it reported in hand was acked (handled or dead-lettered). */
  'message.acked': [key: string];
  stats: [stats: MessageStatsSnapshot];
  exit: [exit: WorkerExit];
}

/**
 * One worker process, owned by its parent: fork, assignment, readiness, heartbeat watchdog, the stop ladder
 * (shutdown message → SIGTERM → SIGKILL) and reaping. A worker that fails to start is killed and never reported
 * ready.
 */
export class WorkerProcess extends EventEmitter<WorkerProcessEvents> {
  readonly assignment: WorkerAssignment;
  readonly #timings: WorkerTimings;
  readonly #log: Logger;
  readonly #child: ChildProcess;
  readonly exited: Promise<WorkerExit>;
  #state: WorkerState = 'starting';
  readonly #exitRecorder = new ExitRecorder();
  #readyAt = 0;
  #lastHeartbeatAt = Date.now();
  #inHand: readonly InHandMessage[] = [];
  #stats: MessageStatsSnapshot | undefined;
  #memoryRssBytes = 0;
  #load: WorkerLoad | undefined;
  #runtime: RuntimeSample | undefined;
  readonly #window = new StatsWindow();
  #stopPromise: Promise<WorkerExit> | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #deadLetters: DeadLetterSink | undefined;

  /**
   * @param entry - the compiled worker entry (see `buildWorkerBundle`): plain JavaScript, so the worker runs on
   *   plain `node` with no loader.
   * @param execArgv - Node/V8 flags of the worker process. @defaultValue none
   */
  constructor(
    entry: string,
    assignment: WorkerAssignment,
    timings: WorkerTimings,
    logger: Logger,
    env?: NodeJS.ProcessEnv,
    execArgv: readonly string[] = [],
    deadLetters?: DeadLetterSink,
  ) {
    super();
    this.#deadLetters = deadLetters;
    this.assignment = assignment;
    this.#timings = timings;
    this.#log = logger.child({ pool: assignment.pool, slot: assignment.slot });
    // Secrets travel in the environment (inherited), never in argv.
    this.#child = fork(entry, [], {
      execArgv: [...execArgv],
      env: env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.#onMessage(message);
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        clearInterval(this.#watchdog);
        this.#state = 'dead';
        void this.#lastMessages().then(() =>
          resolve(this.#exitRecorder.record(code, signal, this.#readyAt, this.#inHand)),
        );
      });
    });
    this.exited.then(
      (exit) => this.emit('exit', exit),
      () => undefined,
    );
    this.#child.once('spawn', () => this.#child.send({ type: 'config', ...assignment }));
  }

  /**
   * Wait until the IPC channel is closed, so that what the worker sent just before it died (a redelivered message
   * reported in hand, then a SIGKILL) has been read: the 'exit' event may come first. Bounded, in case a process
   * the worker started keeps the channel open.
   */
  async #lastMessages(): Promise<void> {
    if (!this.#child.connected) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, LAST_MESSAGES_WAIT_MS);
      this.#child.once('disconnect', done);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** `<pool>-<slot>`. */
  get id(): string {
    return `${this.assignment.pool}-${this.assignment.slot}`;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** This worker as lifecycle events name it. */
  get ref(): WorkerRef {
    return { pool: this.assignment.pool, slot: this.assignment.slot, workerId: this.id, pid: this.pid };
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Time of the last heartbeat (ms since epoch). */
  get lastHeartbeatAt(): number {
    return this.#lastHeartbeatAt;
  }

  /** `Date.now()` when it became ready, or 0. */
  get readyAt(): number {
    return this.#readyAt;
  }

  get inHand(): readonly InHandMessage[] {
    return this.#inHand;
  }

  /** The last message counters it reported. */
  get stats(): MessageStatsSnapshot | undefined {
    return this.#stats;
  }

  /** Its load over the last stats interval. */
  get load(): WorkerLoad | undefined {
    return this.#load;
  }

  /** Its stats over the last windows (see {@link StatsWindow}). */
  get window(): StatsWindow {
    return this.#window;
  }

  /** Its event-loop lag and GC, from its last stats message. */
  get runtime(): RuntimeSample | undefined {
    return this.#runtime;
  }

  get memoryRssBytes(): number {
    return this.#memoryRssBytes;
  }

  /**
   * Resolve when the worker is subscribed (`ready`), with whether the broker had kept its session.
   *
   * @throws RouteMQError the code the worker reported (a route file, the broker), `RMQ_ERR_WORKER_EXITED` when it
   *   exited without one, `RMQ_ERR_WORKER_CRASHED` when it exited while handling its resumed session's messages
   *   (before its subscription was confirmed), `RMQ_ERR_WORKER_START_TIMEOUT` when it did not become ready within
   *   `startTimeoutMs`.
   */
  ready(): Promise<{ sessionPresent: boolean }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        this.kill('SIGKILL');
        reject(
          new RouteMQError(
            ErrorCodes.WORKER_START_TIMEOUT,
            `Worker ${this.id} was not ready within ${this.#timings.startTimeoutMs} ms`,
          ),
        );
      }, this.#timings.startTimeoutMs);
      const onMessage = (message: unknown): void => {
        if (isWorkerMessage(message) && message.type === 'ready') {
          cleanup();
          resolve({ sessionPresent: message.sessionPresent });
        }
      };
      const onExit = (exit: WorkerExit): void => {
        cleanup();
        reject(notReadyError(this.id, exit));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        this.off('exit', onExit);
      };
      this.#child.on('message', onMessage);
      this.once('exit', onExit);
    });
  }

  /**
   * Ask the worker to stop (`stop` keeps its session, `leave` ends it), then escalate: SIGTERM once its drain
   * deadline has passed by `killTimeoutMs`, SIGKILL `killTimeoutMs` later. Memoised; resolves on exit.
   */
  stop(mode: ShutdownMode, drainTimeoutMs: number): Promise<WorkerExit> {
    this.#stopPromise ??= (async () => {
      this.#exitRecorder.stopRequested();
      if (this.#state === 'dead') return this.exited;
      this.#state = 'draining';
      clearInterval(this.#watchdog);
      if (this.#child.connected) this.#child.send({ type: 'shutdown', mode, timeoutMs: drainTimeoutMs });
      else this.kill('SIGTERM');
      const term = setTimeout(() => this.kill('SIGTERM'), drainTimeoutMs + this.#timings.killTimeoutMs);
      const kill = setTimeout(() => this.kill('SIGKILL'), drainTimeoutMs + 2 * this.#timings.killTimeoutMs);
      const exit = await this.exited;
      clearTimeout(term);
      clearTimeout(kill);
      return exit;
    })();
    return this.#stopPromise;
  }

  /** Send a signal if the process still runs. */
  kill(signal: NodeJS.Signals): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal);
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'ready':
        this.#readyAt = Date.now();
        if (this.#state === 'dead') break; // read after its exit (see #lastMessages): it was ready, briefly
        this.#state = 'ready';
        this.#lastHeartbeatAt = Date.now();
        this.#watchdog = setInterval(() => this.#checkHeartbeat(), this.#timings.heartbeatIntervalMs);
        break;
      case 'heartbeat':
        this.#lastHeartbeatAt = Date.now();
        this.#inHand = message.inHand;
        break;
      case 'stats':
        this.#stats = message.stats;
        this.#memoryRssBytes = message.memoryRssBytes;
        this.#load = message.load;
        this.#runtime = message.runtime;
        // Fed as stats arrive, never as someone reads: the live figures are the same whoever asks, however often.
        this.#window.record(Date.now(), message.stats);
        this.emit('stats', message.stats);
        break;
      case 'failed':
        this.#exitRecorder.failed({ code: message.code, message: message.message });
        break;
      case 'stopping':
        this.#state = 'draining';
        break;
      case 'session.ended':
        this.#exitRecorder.sessionEnded();
        break;
      case 'message.dead_lettered': {
        const { type: _type, ...info } = message;
        this.emit('message.dead_lettered', { ...this.ref, ...info });
        break;
      }
      case 'message.started':
        this.#exitRecorder.started(message.key);
        break;
      case 'message.settled':
        this.#exitRecorder.settled(message.key);
        if (message.acked) this.emit('message.acked', message.key);
        break;
      case 'checked':
        break;
      case 'dlq.put':
        void this.#storeDeadLetter(message.requestId, message.envelope);
        break;
    }
  }

  /** Store a worker's dead letter and answer; the worker acks the original only on `ok`. */
  async #storeDeadLetter(
    requestId: number,
    envelope: Extract<WorkerMessage, { type: 'dlq.put' }>['envelope'],
  ): Promise<void> {
    const result = this.#deadLetters
      ? await this.#deadLetters(envelope)
      : ({
          ok: false,
          code: ErrorCodes.DLQ_STORE_FAILED,
          message: 'This worker manager has no dead-letter store',
        } as const);
    if (this.#child.connected) this.#child.send({ type: 'dlq.stored', requestId, result });
  }

  #checkHeartbeat(): void {
    if (this.#state !== 'ready') return;
    const silentMs = Date.now() - this.#lastHeartbeatAt;
    if (silentMs < this.#timings.stuckTimeoutMs) return;
    this.#state = 'stuck';
    clearInterval(this.#watchdog);
    const stuckOn = this.#inHand[0];
    this.#log.error(
      { workerPid: this.pid, silentMs, inHand: this.#inHand },
      stuckOn
        ? `worker stuck: no heartbeat for ${silentMs} ms while handling '${stuckOn.topic}' (route ${stuckOn.route}, ` +
            `message id ${String(stuckOn.messageId)}); killing it, the message will be redelivered`
        : `worker stuck: no heartbeat for ${silentMs} ms; killing it`,
    );
    this.emit('worker.stuck', { ...this.ref, topic: stuckOn?.topic });
    this.kill('SIGKILL');
  }
}
