import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';
import { Fifo } from '../util/fifo.js';
import { IntrusiveList } from '../util/intrusive-list.js';
import { AckSequencer } from './ack-sequencer.js';
import { CopySelection } from './copy-selection.js';
import { Job } from './dispatch-job.js';
import type { AckSender } from './ack-sequencer.js';
import type { Publisher } from './context.js';
import type { PayloadLimits } from './decode-payload.js';
import { RouteRunner } from './route-runner.js';
import type { RouteRunnerOptions, RunOutcome, RunnerDefaults } from './route-runner.js';
import { MessageStats } from './stats.js';
import { messageKey } from './message-key.js';
import type { DeadLetterReason } from './dead-letter.js';
import type { MessageStatsSnapshot, RouteBacklog } from './stats.js';

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  readonly table: RouteTable;
  /** Which routes this process runs; copies for the others are acked without running. @defaultValue all */
  readonly serves?: (route: RouteDefinition) => boolean;
  readonly ack: AckSender;
  readonly publish: Publisher;
  /** Handlers in flight at most; further messages wait unacked (the broker's receive maximum bounds them). */
  readonly concurrency: number;
  /**
   * Messages waiting to start beyond which {@link Dispatcher.onPacket} asks the connection to stop reading until
   * the backlog halves. QoS1 is bounded by the receive maximum anyway; nothing bounds a QoS0 flood but this
   * (TCP backpressure to the broker, never a silent drop). @defaultValue 1000
   */
  readonly maxWaiting?: number;
  readonly limits: PayloadLimits;
  readonly defaults: RunnerDefaults;
  readonly logger: Logger;
  /**
   * Called as a handler run starts, before the handler's first synchronous line (the run is already in
   * {@link Dispatcher.inHand}). `afterQuiet` is true when the dispatcher had been idle for a while: a worker reports
   * the message in hand then, so that if this handler blocks the event loop, its supervisor can name the message.
   * `now` is `Date.now()` as the dispatcher read it (one clock read per message).
   */
  readonly onStart?: (afterQuiet: boolean, now: number) => void;
  /** See {@link RouteRunnerOptions.onDeadLetter}. */
  readonly onDeadLetter?: RouteRunnerOptions<unknown>['onDeadLetter'];
  /** See {@link RouteRunnerOptions.deadLetters}. */
  readonly deadLetters?: RouteRunnerOptions<unknown>['deadLetters'];
  /** See {@link RouteRunnerOptions.origin}. */
  readonly origin?: RouteRunnerOptions<unknown>['origin'];
  /**
   * Whether `route` runs a retained-on-subscribe copy (a packet with the retain flag set) received on connection
   * `epoch`; if no route does, it is acked without running. See `runsRetainedCopy`.
   * @defaultValue non-shared routes do, shared ones never (MQTT 5 §4.8.2)
   */
  readonly runsRetained?: (route: RouteDefinition, packet: IPublishPacket, epoch: number) => boolean;
  /**
   * Told of every redelivered (DUP) QoS≥1 message as its run starts and as it ends, so a worker can report it in
   * hand before its handler runs. Messages without DUP (every first delivery) never reach it: the hot path stays
   * free of it. @defaultValue none
   */
  readonly redelivered?: RedeliveryWatch;
}

/** See {@link DispatcherOptions.redelivered}. */
export interface RedeliveryWatch {
  /**
   * A redelivered message is about to run. Return a reason to dead-letter it instead of running it (its process
   * died with it in hand too often), or `undefined` to run it.
   */
  starting(packet: IPublishPacket): DeadLetterReason | undefined;
  /** Its runs ended: `acked` when it was handled or dead-lettered, false when it stays unacked. Must not throw. */
  settled(packet: IPublishPacket, acked: boolean): void;
}

/** A message whose handler is running, as heartbeats report it. */
export interface InHandMessage {
  readonly topic: string;
  readonly route: string;
  readonly messageId: number | undefined;
  /** `Date.now()` when the handler run started. */
  readonly startedAt: number;
  /** Its identity across redeliveries to this session (see `messageKey`). */
  readonly key: string;
}

/** Idle for this long before a run counts as starting "after quiet" (see {@link DispatcherOptions.onStart}). */
const QUIET_MS = 10;

/**
 * Turns received packets into handler runs: picks the route(s) to run, bounds concurrency, and acks in arrival
 * order once each message's handlers have settled (or it was dead-lettered).
 *
 * On MQTT v5 one publish can reach a connection once per overlapping subscription, each copy tagged with its
 * subscription identifier (`route.subscriptionId`). Only the routes with the winning (most specific) filter run,
 * each on the copy of its own subscription; every other copy is acked without running anything ({@link CopySelection}).
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #sequencer: AckSequencer;
  readonly #runner: RouteRunner<Job>;
  readonly #force = new AbortController();
  readonly #stats = new MessageStats();
  readonly #waiting = new Fifo<Job>();
  /** Running jobs, oldest first. */
  readonly #running = new IntrusiveList<Job>();
  #runningCount = 0;
  #stopping = false;
  #idle: (() => void) | undefined;
  #drained: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #idleSince = Date.now();
  /**
   * When a packet last arrived or a job last finished (its ack may have opened the broker's window, which then
   * sends what it queued for this session), or later: a started job sets it, so the hot path reads the clock once.
   */
  #lastPacketAt = 0;
  #table: RouteTable;
  readonly #copies: CopySelection;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#table = options.table;
    this.#copies = new CopySelection(options);
    this.#sequencer = new AckSequencer(options.ack);
    this.#runner = new RouteRunner<Job>({
      defaults: options.defaults,
      limits: options.limits,
      publish: options.publish,
      stats: this.#stats,
      logger: options.logger,
      forceSignal: this.#force.signal,
      onDeadLetter: options.onDeadLetter,
      deadLetters: options.deadLetters,
      origin: options.origin,
      onSettled: (job, outcome, now) => this.#onRunSettled(job, outcome, now),
    });
  }

  /**
   * Feed one received packet. Never throws. Bound, so it can be passed as a connection's sink. Returns a promise
   * when the backlog is over `maxWaiting`: the connection should read nothing more until it resolves.
   */
  readonly onPacket = (packet: IPublishPacket, epoch: number): Promise<void> | undefined => {
    // While stopping, new arrivals stay unacked: the broker redelivers them to this session later.
    if (this.#stopping) return undefined;
    const ticket = packet.qos > 0 ? this.#sequencer.push(packet, epoch) : undefined;
    const match = this.#table.match(packet.topic);
    // Only copies sent because of a SUBSCRIBE carry the retain flag (and their redeliveries): rare, off the hot path.
    const routes = match
      ? packet.retain
        ? this.#copies.retainedRoutesHere(packet, epoch, match.routes)
        : this.#copies.routesHere(packet, match.routes)
      : undefined;
    if (!match || !routes) {
      this.#lastPacketAt = Date.now();
      if (match) this.#stats.skipped++;
      else {
        this.#stats.noRoute++;
        this.#o.logger.debug({ topic: packet.topic }, 'no route matches topic');
      }
      if (ticket) this.#sequencer.settle(ticket, true);
      return undefined;
    }
    const job = new Job(packet, routes, match.captures, ticket);
    if (this.#runningCount < this.#o.concurrency) {
      this.#start(job);
      return undefined;
    }
    job.queuedAt = Date.now();
    this.#waiting.push(job);
    if (this.#waiting.length < (this.#o.maxWaiting ?? 1000)) return undefined;
    this.#drained ??= new Promise<void>((resolve) => (this.#resume = resolve));
    return this.#drained;
  };

  /**
   * While a reload's new subscriptions are on their way (true), a v5 copy tagged only with subscription identifiers
   * that the table does not have runs by its topic instead of being acked unrun. @defaultValue false
   */
  set runStaleCopies(value: boolean) {
    this.#copies.runStaleCopies = value;
  }

  /**
   * Match the packets that arrive from now on against `table`, running the routes `serves` accepts (a reload).
   * Messages already in hand (running or waiting) keep the routes, and so the code, they were matched with, and
   * are acked after those handlers as before. Synchronous: the swap falls between two packets.
   */
  replaceTable(table: RouteTable, serves?: (route: RouteDefinition) => boolean): void {
    this.#table = table;
    this.#copies.replaceTable(table, serves);
  }

  /** Counters so far. */
  stats(): MessageStatsSnapshot {
    return this.#stats.snapshot(this.#runningCount, this.#waiting.length, this.#backlog());
  }

  /**
   * Messages in hand per route: the running ones (at most `concurrency`) and the waiting ones (at most
   * `maxWaiting`). O(in hand), once per stats snapshot, nothing per message.
   */
  #backlog(): Record<string, RouteBacklog> {
    const backlog: Record<string, { messages: number; oldestReceivedAt: number }> = {};
    const add = (job: Job): void => {
      const receivedAt = job.queuedAt || job.startedAt;
      for (const route of job.routes) {
        const entry = (backlog[route.pattern] ??= { messages: 0, oldestReceivedAt: receivedAt });
        entry.messages++;
        if (receivedAt < entry.oldestReceivedAt) entry.oldestReceivedAt = receivedAt;
      }
    };
    for (let job = this.#running.first; job; job = job.next) add(job);
    this.#waiting.forEach(add);
    return backlog;
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.#runningCount;
  }

  /** The oldest messages in hand (at most `max`), oldest first. */
  inHand(max = 3): InHandMessage[] {
    const result: InHandMessage[] = [];
    for (let job = this.#running.first; job && result.length < max; job = job.next) result.push(describe(job));
    return result;
  }

  /**
   * Resolve once no packet has arrived for `quietMs` and nothing is running or waiting (`true`), or after
   * `timeoutMs` or when `signal` aborts (`false`).
   * Used when a slot leaves for good: after UNSUBSCRIBE it serves what the broker still had queued for it.
   */
  async waitUntilIdle(quietMs: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const quiet = Date.now() - this.#lastPacketAt >= quietMs;
      if (quiet && this.#runningCount === 0 && this.#waiting.length === 0) return true;
      if (Date.now() >= deadline || signal?.aborted) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, quietMs)));
    }
  }

  /**
   * Stop dispatching and let the handlers in flight finish. Messages not started are left unacked. Past
   * `timeoutMs`, the handlers' signals abort and their messages stay unacked (redelivered later). Resolves
   * `true` when everything in flight finished in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#stopping = true;
    this.#waiting.clear();
    this.#resume?.();
    this.#resume = undefined;
    this.#drained = undefined;
    if (this.#runningCount === 0) return true;
    const idle = new Promise<void>((resolve) => (this.#idle = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const finished = await Promise.race([idle.then(() => true), timedOut]);
    clearTimeout(timer);
    if (!finished) {
      this.#o.logger.warn(
        { inFlight: this.#runningCount, inHand: this.inHand() },
        'drain deadline reached; aborting handlers in flight',
      );
      this.#force.abort(
        new RouteMQError(ErrorCodes.SHUTDOWN_DEADLINE, 'The process is stopping and its drain deadline passed'),
      );
    }
    return finished;
  }

  #start(job: Job): void {
    const now = Date.now();
    this.#lastPacketAt = now;
    const afterQuiet = this.#runningCount === 0 && now - this.#idleSince >= QUIET_MS;
    job.startedAt = now;
    this.#running.push(job);
    this.#runningCount++;
    this.#o.onStart?.(afterQuiet, now);
    const { routes, packet, captures } = job;
    job.pending = routes.length;
    // Only redeliveries (DUP) are watched: one flag read per message on the hot path, the rest out of line.
    if (packet.dup && this.#rejectRedelivered(job)) return;
    // An index loop: the first thousands of messages run before V8 optimises this, and for-of then goes through the
    // iterator protocol.
    for (let i = 0; i < routes.length; i++) this.#runner.run(routes[i] as RouteDefinition, packet, captures, job, now);
  }

  /**
   * Tell the redelivery watch that `job` (DUP) starts; when it says to, dead-letter it without running it.
   * Returns whether it did.
   */
  #rejectRedelivered(job: Job): boolean {
    const { packet, routes } = job;
    if (this.#o.redelivered === undefined || packet.qos === 0) return false;
    const reason = this.#o.redelivered.starting(packet);
    if (reason === undefined) return false;
    for (let i = 0; i < routes.length; i++) this.#runner.reject(routes[i] as RouteDefinition, packet, job, reason);
    return true;
  }

  #settledRedelivered(job: Job): void {
    if (job.packet.qos > 0) this.#o.redelivered?.settled(job.packet, job.ack);
  }

  /** One route run of `job` ended; the job finishes once all of them did, acked only if all said `ack`. */
  #onRunSettled(job: Job, outcome: RunOutcome, now: number): void {
    if (outcome !== 'ack') job.ack = false;
    if (--job.pending === 0) this.#finish(job, now);
  }

  #finish(job: Job, now: number): void {
    if (job.ticket) this.#sequencer.settle(job.ticket, job.ack);
    if (job.packet.dup) this.#settledRedelivered(job);
    this.#lastPacketAt = now;
    this.#running.remove(job);
    this.#runningCount--;
    const next = this.#stopping ? undefined : this.#waiting.shift();
    if (next) this.#start(next);
    if (this.#resume && (this.#stopping || this.#waiting.length <= (this.#o.maxWaiting ?? 1000) / 2)) {
      this.#resume();
      this.#resume = undefined;
      this.#drained = undefined;
    }
    if (this.#runningCount === 0) {
      this.#idleSince = now;
      this.#idle?.();
    }
  }
}

function describe(job: Job): InHandMessage {
  return {
    topic: job.packet.topic,
    route: job.routes[0]?.pattern ?? '',
    messageId: job.packet.messageId,
    startedAt: job.startedAt,
    key: messageKey(job.packet),
  };
}
