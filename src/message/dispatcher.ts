import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';
import { Fifo } from '../util/fifo.js';
import { AckSequencer } from './ack-sequencer.js';
import type { AckSender, AckTicket } from './ack-sequencer.js';
import type { Publisher } from './context.js';
import type { PayloadLimits } from './decode-payload.js';
import { RouteRunner } from './route-runner.js';
import type { RouteRunnerOptions, RunnerDefaults } from './route-runner.js';
import { MessageStats } from './stats.js';
import type { MessageStatsSnapshot } from './stats.js';

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
   */
  readonly onStart?: (afterQuiet: boolean) => void;
  /** See {@link RouteRunnerOptions.onDeadLetter}. */
  readonly onDeadLetter?: RouteRunnerOptions['onDeadLetter'];
}

/** A message whose handler is running, as heartbeats report it. */
export interface InHandMessage {
  readonly topic: string;
  readonly route: string;
  readonly messageId: number | undefined;
  /** `Date.now()` when the handler run started. */
  readonly startedAt: number;
}

interface Job {
  readonly packet: IPublishPacket;
  readonly routes: readonly RouteDefinition[];
  readonly captures: readonly string[];
  readonly ticket: AckTicket | undefined;
  startedAt: number;
}

/** Idle for this long before a run counts as starting "after quiet" (see {@link DispatcherOptions.onStart}). */
const QUIET_MS = 10;

/**
 * Turns received packets into handler runs: picks the route(s) to run, bounds concurrency, and acks in arrival
 * order once each message's handlers have settled (or it was dead-lettered).
 *
 * On MQTT v5 one publish can reach a connection once per overlapping subscription, each copy tagged with its
 * subscription identifier (= route id). Only the routes with the winning (most specific) filter run, each on the
 * copy of its own subscription; every other copy is acked without running anything.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #sequencer: AckSequencer;
  readonly #runner: RouteRunner;
  readonly #force = new AbortController();
  readonly #stats = new MessageStats();
  readonly #waiting = new Fifo<Job>();
  readonly #running = new Set<Job>();
  #stopping = false;
  #idle: (() => void) | undefined;
  #drained: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #idleSince = Date.now();
  #lastPacketAt = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#sequencer = new AckSequencer(options.ack);
    this.#runner = new RouteRunner({
      defaults: options.defaults,
      limits: options.limits,
      publish: options.publish,
      stats: this.#stats,
      logger: options.logger,
      forceSignal: this.#force.signal,
      onDeadLetter: options.onDeadLetter,
    });
  }

  /**
   * Feed one received packet. Never throws. Bound, so it can be passed as a connection's sink. Returns a promise
   * when the backlog is over `maxWaiting`: the connection should read nothing more until it resolves.
   */
  readonly onPacket = (packet: IPublishPacket, epoch: number): Promise<void> | undefined => {
    // While stopping, new arrivals stay unacked: the broker redelivers them to this session later.
    if (this.#stopping) return undefined;
    this.#lastPacketAt = Date.now();
    const ticket = packet.qos > 0 ? this.#sequencer.push(packet, epoch) : undefined;
    const routes = this.#routesFor(packet);
    if (!routes) {
      if (ticket) this.#sequencer.settle(ticket, true);
      return undefined;
    }
    const job: Job = { packet, routes: routes.routes, captures: routes.captures, ticket, startedAt: 0 };
    if (this.#running.size < this.#o.concurrency) {
      this.#start(job);
      return undefined;
    }
    this.#waiting.push(job);
    if (this.#waiting.length < (this.#o.maxWaiting ?? 1000)) return undefined;
    this.#drained ??= new Promise<void>((resolve) => (this.#resume = resolve));
    return this.#drained;
  };

  /** Counters so far. */
  stats(): MessageStatsSnapshot {
    return this.#stats.snapshot(this.#running.size, this.#waiting.length);
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** The oldest messages in hand (at most `max`), oldest first. */
  inHand(max = 3): InHandMessage[] {
    const result: InHandMessage[] = [];
    for (const job of this.#running) {
      if (result.length >= max) break;
      result.push(describe(job));
    }
    return result;
  }

  /**
   * Resolve once no packet has arrived for `quietMs` and nothing is running or waiting, or after `timeoutMs`.
   * Used when a slot leaves for good: after UNSUBSCRIBE it serves what the broker still had queued for it.
   */
  async waitUntilIdle(quietMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const quiet = Date.now() - this.#lastPacketAt >= quietMs;
      if (quiet && this.#running.size === 0 && this.#waiting.length === 0) return true;
      if (Date.now() >= deadline) return false;
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
    if (this.#running.size === 0) return true;
    const idle = new Promise<void>((resolve) => (this.#idle = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const finished = await Promise.race([idle.then(() => true), timedOut]);
    clearTimeout(timer);
    if (!finished) {
      this.#o.logger.warn(
        { inFlight: this.#running.size, inHand: this.inHand() },
        'drain deadline reached; aborting handlers in flight',
      );
      this.#force.abort(new RouteMQError(ErrorCodes.STOPPED, 'The process is stopping'));
    }
    return finished;
  }

  #routesFor(packet: IPublishPacket): { routes: readonly RouteDefinition[]; captures: readonly string[] } | undefined {
    const match = this.#o.table.match(packet.topic);
    if (!match) {
      this.#stats.noRoute++;
      this.#o.logger.debug({ topic: packet.topic }, 'no route matches topic');
      return undefined;
    }
    const ids = packet.properties?.subscriptionIdentifier;
    const serves = this.#o.serves;
    let routes = match.routes;
    const runsHere = (route: RouteDefinition): boolean =>
      (serves === undefined || serves(route)) &&
      (ids === undefined || (typeof ids === 'number' ? ids === route.id : ids.includes(route.id)));
    if (serves || ids !== undefined) {
      // One route on the winning filter is the common case: no array to allocate.
      const only = routes.length === 1 ? routes[0] : undefined;
      routes = only ? (runsHere(only) ? routes : []) : routes.filter(runsHere);
    }
    if (routes.length === 0) {
      this.#stats.skipped++;
      return undefined;
    }
    return { routes, captures: match.captures };
  }

  #start(job: Job): void {
    const now = Date.now();
    const afterQuiet = this.#running.size === 0 && now - this.#idleSince >= QUIET_MS;
    job.startedAt = now;
    this.#running.add(job);
    this.#o.onStart?.(afterQuiet);
    const { routes, packet, captures } = job;
    const single = routes.length === 1 ? routes[0] : undefined;
    const outcome = single
      ? this.#runner.run(single, packet, captures)
      : Promise.all(routes.map((r) => this.#runner.run(r, packet, captures))).then((all) =>
          all.every((o) => o === 'ack') ? 'ack' : 'hold',
        );
    // RouteRunner never rejects by design; if it does, keep the message for redelivery rather than lose it.
    outcome.then(
      (o) => this.#finish(job, o === 'ack'),
      (err: unknown) => {
        this.#o.logger.error({ err, topic: packet.topic }, 'dispatcher error; message left unacked');
        this.#finish(job, false);
      },
    );
  }

  #finish(job: Job, ack: boolean): void {
    if (job.ticket) this.#sequencer.settle(job.ticket, ack);
    this.#running.delete(job);
    const next = this.#stopping ? undefined : this.#waiting.shift();
    if (next) this.#start(next);
    if (this.#resume && (this.#stopping || this.#waiting.length <= (this.#o.maxWaiting ?? 1000) / 2)) {
      this.#resume();
      this.#resume = undefined;
      this.#drained = undefined;
    }
    if (this.#running.size === 0) {
      this.#idleSince = Date.now();
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
  };
}
