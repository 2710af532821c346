import { EventEmitter } from 'node:events';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Dispatcher } from '../message/dispatcher.js';
import type { DispatcherOptions, InHandMessage } from '../message/dispatcher.js';
import { runsRetainedCopy } from '../message/retained.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import { MqttConnection } from '../mqtt/connection.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import { namesOnlySubscription } from './client-ids.js';
import { subscriptionOf } from './subscription-entry.js';

/** Options of {@link Consumer}. */
export interface ConsumerOptions {
  readonly config: ResolvedConfig;
  /** The whole route table: matching must see every route to know which one wins. */
  readonly table: RouteTable;
  /** The routes this consumer subscribes to and runs. */
  readonly routes: readonly RouteDefinition[];
  readonly clientId: string;
  readonly logger: Logger;
  /** Handlers in flight at most. @defaultValue the smallest `concurrency` of `routes`, else `ROUTEMQ_CONCURRENCY` */
  readonly concurrency?: number;
  /** See {@link DispatcherOptions.onStart}. */
  readonly onStart?: DispatcherOptions['onStart'];
  /** See {@link DispatcherOptions.onDeadLetter}. */
  readonly onDeadLetter?: DispatcherOptions['onDeadLetter'];
  /** Where dead letters are stored before the original is acked (see {@link DispatcherOptions.deadLetters}). */
  readonly deadLetters?: DispatcherOptions['deadLetters'];
  /** Where this consumer runs, for dead-letter envelopes. */
  readonly origin?: DispatcherOptions['origin'];
  /** See {@link DispatcherOptions.redelivered}. */
  readonly redelivered?: DispatcherOptions['redelivered'];
  /**
   * Adopt an existing session instead of serving routes: subscribe to nothing, run every message by the route
   * that matches its topic now (v5 subscription identifiers of the previous owner are ignored), never reconnect
   * (a close means the owner or another adopter took the client id), and on `stop({ endSession: true })`
   * unsubscribe from these filters (the previous owner's) before draining and ending the session.
   */
  readonly adopt?: { readonly filters: readonly string[] };
  /**
   * Subscribe without v5 subscription identifiers, when the client id names the session's only subscription
   * ({@link namesOnlySubscription}: a worker of a single-filter pool); otherwise this is ignored. A copy then
   * needs no identifier to be told from a stale subscription's, because the session has never held another, and
   * MQTT.js skips parsing a properties section per message (BENCHMARKS.md, finding 22). @defaultValue false
   */
  readonly untagged?: boolean;
}

/** Options of {@link Consumer.stop}. */
export interface ConsumerStopOptions {
  /** Budget for the whole stop, ms. @defaultValue `ROUTEMQ_SHUTDOWN_TIMEOUT_MS` */
  readonly timeoutMs?: number;
  /** Leave for good: UNSUBSCRIBE, serve what is queued until idle, end the session once nothing is unacked. */
  readonly endSession?: boolean;
  /** With `endSession`: wait at most this long for idle; `timeoutMs` then bounds the drain alone. */
  readonly idleTimeoutMs?: number;
  /** With `endSession`: stop waiting for idle (the session is then kept). */
  readonly signal?: AbortSignal;
}

/** After UNSUBSCRIBE, a leaving slot counts as idle once no message has arrived for this long. */
const LEAVE_QUIET_MS = 500;

/** Events of {@link Consumer}. */
export interface ConsumerEvents {
  /** Subscribed (SUBACK) after a connect. */
  ready: [sessionPresent: boolean];
  /** The connection gave up for good; the consumer cannot serve any more. */
  fatal: [error: RouteMQError];
}

/**
 * One MQTT connection serving a set of routes: it subscribes to their filters (`$share/<group>/…` for shared
 * routes) on every connect, dispatches with ack-after-handler, and stops with the drain protocol of DELIVERY.md.
 */
export class Consumer extends EventEmitter<ConsumerEvents> {
  readonly #o: ConsumerOptions;
  readonly #connection: MqttConnection;
  readonly #dispatcher: Dispatcher;
  #stopPromise: Promise<void> | undefined;
  /** What the current connection's CONNACK said. */
  #sessionPresent = false;
  /** The connection whose SUBSCRIBE asked for the retained messages of `'every-start'` routes (see retained.ts). */
  #startEpoch: number | undefined;
  /** A SUBSCRIBE of this process has succeeded: later ones are reconnects, not a start. */
  #subscribedOnce = false;
  #endedSession = false;
  /** The routes served now, and the table they are matched in ({@link replaceRoutes} swaps both). */
  #routes: readonly RouteDefinition[];
  #table: RouteTable;
  /** Subscriptions go without identifiers (see {@link ConsumerOptions.untagged}). */
  #untagged: boolean;

  constructor(options: ConsumerOptions) {
    super();
    this.#o = options;
    this.#routes = options.routes;
    this.#table = options.table;
    this.#untagged =
      (options.untagged ?? false) &&
      options.adopt === undefined &&
      namesOnlySubscription(
        options.clientId,
        options.routes.map((r) => r.mqttTopic),
      );
    const { config, logger } = options;
    const served = new Set(options.routes.map((r) => r.id));
    const concurrency =
      options.concurrency ??
      Math.min(config.routemq.concurrency, ...options.routes.map((r) => r.concurrency ?? config.routemq.concurrency));
    this.#dispatcher = new Dispatcher({
      table: options.table,
      serves: (route) => served.has(route.id),
      ack: (packet, epoch) => this.#connection.ack(packet, epoch),
      publish: (topic, payload, opts) => this.#connection.publish(topic, payload, opts),
      concurrency,
      limits: { maxBytes: config.routemq.maxPayloadBytes, maxDepth: config.routemq.maxJsonDepth },
      defaults: {
        timeoutMs: config.routemq.handlerTimeoutMs,
        maxAttempts: config.routemq.maxAttempts,
        retryBaseMs: config.routemq.retryBaseMs,
        retryMaxMs: config.routemq.retryMaxMs,
        dlqPrefix: config.routemq.dlqPrefix,
      },
      logger,
      ...(options.onStart ? { onStart: options.onStart } : {}),
      ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
      ...(options.deadLetters ? { deadLetters: options.deadLetters } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.redelivered ? { redelivered: options.redelivered } : {}),
      runsRetained: (route, packet, epoch) =>
        runsRetainedCopy(route, packet.dup, {
          protocolVersion: config.mqtt.protocolVersion,
          // Packets reach the dispatcher as they arrive, so `epoch` is the current connection's.
          sessionPresent: this.#sessionPresent,
          startConnection: epoch === this.#startEpoch,
        }),
    });
    const connectionOptions = connectionOptionsFromConfig(config, options.clientId, logger);
    const onPacket = this.#dispatcher.onPacket;
    this.#connection = options.adopt
      ? new MqttConnection({ ...connectionOptions, reconnect: false }, (packet, epoch) => {
          // The identifiers name the previous owner's subscriptions, not ours: match by topic alone.
          if (packet.properties?.subscriptionIdentifier !== undefined) delete packet.properties.subscriptionIdentifier;
          return onPacket(packet, epoch);
        })
      : new MqttConnection(connectionOptions, onPacket);
    this.#connection.on('connect', (epoch, sessionPresent) => {
      this.#sessionPresent = sessionPresent;
      void this.#subscribe(epoch, sessionPresent);
    });
    this.#connection.on('fatal', (err) => this.emit('fatal', err));
  }

  get clientId(): string {
    return this.#connection.clientId;
  }

  get connected(): boolean {
    return this.#connection.connected;
  }

  /** The maximum packet size the broker announced (MQTT v5), if it did. */
  get serverMaximumPacketSize(): number | undefined {
    return this.#connection.serverMaximumPacketSize;
  }

  /** Publish on this consumer's connection. */
  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    return this.#connection.publish(topic, payload, options);
  }

  /**
   * After `stop({ endSession: true })`: whether the session was really ended. `false` when it was kept because
   * something stayed unacked (it did not go idle, handlers outlived the deadline, or the connection was down), or
   * when the broker was not told (the DISCONNECT did not go out; on MQTT 3.1.1, the clean connect failed).
   */
  get endedSession(): boolean {
    return this.#endedSession;
  }

  /** Handlers running now. */
  get inFlight(): number {
    return this.#dispatcher.inFlight;
  }

  /** The oldest messages whose handlers are running (at most `max`). @defaultValue max 3 */
  inHand(max?: number): InHandMessage[] {
    return this.#dispatcher.inHand(max);
  }

  /** Message counters of this consumer. */
  stats(): MessageStatsSnapshot {
    return this.#dispatcher.stats();
  }

  /**
   * Connect and subscribe; resolves once the first SUBACK is in.
   *
   * @throws RouteMQError `RMQ_ERR_BROKER_UNREACHABLE`, `RMQ_ERR_MQTT_AUTH`, `RMQ_ERR_MQTT_SUBSCRIBE_REFUSED`.
   */
  async start(): Promise<{ sessionPresent: boolean }> {
    const ready = new Promise<boolean>((resolve, reject) => {
      this.once('ready', resolve);
      this.once('fatal', reject);
    });
    await this.#connection.start();
    return { sessionPresent: await ready };
  }

  async #subscribe(epoch: number, sessionPresent: boolean): Promise<void> {
    if (this.#o.adopt) {
      this.emit('ready', sessionPresent);
      return;
    }
    // Until one SUBSCRIBE has gone through, this is still the start (a connection may drop mid-subscribe).
    const atStart = !this.#subscribedOnce;
    if (atStart) this.#startEpoch = epoch;
    const subscriptions = this.#routes.map((r) => subscriptionOf(r, atStart, !this.#untagged));
    try {
      if (sessionPresent) await this.#dropStaleSubscriptions();
      await this.#connection.subscribe(subscriptions);
      this.#subscribedOnce = true;
      this.#o.logger.debug({ subscriptions: subscriptions.map((s) => s.topic) }, 'subscribed');
      this.emit('ready', sessionPresent);
    } catch (err) {
      if (err instanceof RouteMQError) {
        this.emit('fatal', err);
        return;
      }
      // The connection dropped mid-subscribe; the next connect subscribes again.
      this.#o.logger.warn({ err }, 'subscribe interrupted; retrying on reconnect');
    }
  }

  /**
   * A resumed session keeps the subscriptions of the previous run. If a route moved (say from the main process
   * to a worker pool), the old subscription would still take a share of its messages here, where they are acked
   * without running. So drop every subscription of the table that this consumer does not serve.
   */
  async #dropStaleSubscriptions(): Promise<void> {
    const mine = new Set(this.#routes.map((r) => r.mqttTopic));
    const stale = [...new Set(this.#table.routes.map((r) => r.mqttTopic))].filter((t) => !mine.has(t));
    if (stale.length === 0) return;
    await this.#connection.unsubscribe(stale);
    this.#o.logger.debug({ stale }, 'dropped subscriptions this consumer no longer serves');
  }

  /**
   * Serve `routes` of `table` from now on (a reload of the main process's routes). The dispatcher swaps tables
   * between two packets: messages in hand finish on the old code and are acked after it; later ones run the new
   * code. Then the new subscriptions (a new filter, or a changed QoS or identifier) are made before the ones no
   * longer served are dropped, so a filter served before and after never misses a message; until they are acked, a
   * v5 copy of an old subscription runs by its topic (a copy arriving in the instant between the SUBACK and that
   * switch may run twice: at least once). A message matching no new route is acked without running, as no route
   * serves it any more. The handler concurrency stays as it was started.
   *
   * @returns the MQTT topics subscribed and unsubscribed.
   * @throws RouteMQError `RMQ_ERR_MQTT_SUBSCRIBE_REFUSED` when the broker refuses a new subscription (the old
   *   routes are served again, and the old subscriptions stay); `RMQ_ERR_MQTT_NOT_CONNECTED` when not connected
   *   (nothing changes).
   */
  async replaceRoutes(
    table: RouteTable,
    routes: readonly RouteDefinition[],
  ): Promise<{ subscribed: string[]; unsubscribed: string[] }> {
    if (!this.#connection.connected) {
      throw new RouteMQError(ErrorCodes.MQTT_NOT_CONNECTED, 'Cannot reload routes while the MQTT connection is down');
    }
    // The client id no longer names what the session subscribes to: identifiers from now on.
    this.#untagged = false;
    const key = (r: RouteDefinition): string => `${r.mqttTopic}\u0000${r.qos}\u0000${r.subscriptionId}`;
    const before = { table: this.#table, routes: this.#routes };
    const had = new Set(before.routes.map(key));
    const keeps = new Set(routes.map((r) => r.mqttTopic));
    const added = routes.filter((r) => !had.has(key(r)));
    const dropped = [...new Set(before.routes.map((r) => r.mqttTopic))].filter((t) => !keeps.has(t));
    const swap = (next: typeof before): void => {
      const served = new Set(next.routes.map((r) => r.id));
      this.#table = next.table;
      this.#routes = next.routes;
      this.#dispatcher.replaceTable(next.table, (route) => served.has(route.id));
    };
    swap({ table, routes });
    // Until the new subscriptions are acked, a changed filter's messages come only on its old subscription.
    this.#dispatcher.runStaleCopies = added.length > 0;
    try {
      if (added.length > 0) await this.#connection.subscribe(added.map((r) => subscriptionOf(r, false, true)));
    } catch (err) {
      swap(before);
      throw err;
    } finally {
      this.#dispatcher.runStaleCopies = false;
    }
    if (dropped.length > 0) {
      await this.#connection
        .unsubscribe(dropped)
        .catch((err: unknown) => this.#o.logger.warn({ err, dropped }, 'unsubscribe after a reload failed'));
    }
    return { subscribed: added.map((r) => r.mqttTopic), unsubscribed: dropped };
  }

  /**
   * Stop: finish the handlers in flight (up to `timeoutMs`) and ack them, then DISCONNECT. By default the session
   * and its subscriptions stay, so the broker queues what arrives while the process is away. With `endSession`
   * (the slot leaves for good) the consumer first UNSUBSCRIBEs so new messages go to the other members.
   * Memoised; never rejects.
   */
  stop(options: ConsumerStopOptions = {}): Promise<void> {
    this.#stopPromise ??= this.#doStop(options.timeoutMs ?? this.#o.config.routemq.shutdownTimeoutMs, options);
    return this.#stopPromise;
  }

  async #doStop(timeoutMs: number, options: ConsumerStopOptions): Promise<void> {
    let deadline = Date.now() + timeoutMs;
    let idle = true;
    if (options.endSession && this.#connection.connected) {
      // Scale-down protocol (DELIVERY.md): leave the group first so new messages go to the other members, then
      // serve what the broker had already queued or sent to this session until it goes quiet.
      await this.#connection
        .unsubscribe(this.#o.adopt?.filters ?? this.#routes.map((r) => r.mqttTopic))
        .catch((err: unknown) => this.#o.logger.warn({ err }, 'unsubscribe failed'));
      idle = await this.#dispatcher.waitUntilIdle(LEAVE_QUIET_MS, options.idleTimeoutMs ?? timeoutMs, options.signal);
      if (options.idleTimeoutMs !== undefined) deadline = Date.now() + timeoutMs;
    } else if (options.endSession) {
      // Offline: what the broker queued for this session cannot be served now, so it must not be discarded.
      idle = false;
    }
    const finished = await this.#dispatcher.drain(Math.max(0, deadline - Date.now()));
    if (!finished) this.#o.logger.warn('stopped with handlers still running; their messages will be redelivered');
    // Ending a session drops its unacked messages for the whole group (Mosquitto): only a session with nothing
    // left unacked may end. Otherwise it is kept, and its messages return when this client id connects again.
    const endSession = (options.endSession ?? false) && idle && finished;
    if (options.endSession && !endSession) {
      this.#o.logger.error(
        { clientId: this.clientId },
        'could not drain before leaving: the session is kept (not ended) so its unacked messages are not lost; ' +
          'they are delivered when this client id connects again',
      );
    }
    await this.#connection.stop({ endSession });
    this.#endedSession = endSession && this.#connection.sessionEnded;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
