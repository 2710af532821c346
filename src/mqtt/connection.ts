import { EventEmitter } from 'node:events';
import mqtt from 'mqtt';
import type { IClientSubscribeOptions, IPublishPacket, ISubscriptionGrant, MqttClient, Packet } from 'mqtt';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { OutgoingPayload, PublishOptions, QoS } from '../types.js';
import { backoffDelayMs } from '../util/backoff.js';
import { withTimeout } from '../util/with-timeout.js';
import { classifyConnectError, isSessionTakenOver } from './connect-errors.js';
import type { ConnectionOptions } from './connection-options.js';
import { FlapDetector } from './flap-detector.js';
import { PubackBatch } from './puback-batch.js';

/** One subscription, with an optional v5 subscription identifier and Retain Handling. */
export interface Subscription {
  readonly topic: string;
  readonly qos: QoS;
  readonly subscriptionId?: number;
  /** v5 Retain Handling: 0 retained messages at every SUBSCRIBE, 1 only for a new subscription, 2 never. */
  readonly retainHandling?: 0 | 1 | 2;
}

/**
 * Receives every PUBLISH, with the connection epoch it arrived on. The ack is the receiver's job. A returned
 * promise means "backlog full": the connection reads nothing more until it resolves.
 */
export type PacketSink = (packet: IPublishPacket, epoch: number) => Promise<void> | undefined;

/** Events of {@link MqttConnection}. */
export interface ConnectionEvents {
  /** A CONNACK arrived; `epoch` counts connections, `sessionPresent` tells whether the broker kept our session. */
  connect: [epoch: number, sessionPresent: boolean];
  /** The transport closed; a reconnect follows unless the connection is stopping or failed. */
  close: [];
  /** The connection gave up for good (auth refused, session taken over). */
  fatal: [error: RouteMQError];
}

/** The private parts of MqttClient that the QoS2 ack needs (pinned MQTT.js version, covered by tests). */
interface ClientInternals {
  _sendPacket(packet: Packet, cb?: (err?: Error) => void): void;
  _releaseIncomingQoS2Publish(messageId: number): void;
}

// Passed to MQTT.js's done callback: skip the PUBACK, the receiver acks after its handler.
// Never thrown nor logged: MQTT.js only tests it for truth.
const DEFERRED_ACK = new RouteMQError(ErrorCodes.INTERNAL, 'ack deferred until the handler settles');
const noop = (): void => undefined;
const RESOLVED = Promise.resolve();

/**
 * One MQTT connection with a persistent session and pipelined, ack-after-handler delivery.
 *
 * Every PUBLISH goes to the sink, and MQTT.js is told to go on with its pipeline *without* acking
 * (`done(err)` skips the PUBACK), so keepalive and the next messages never wait behind a handler
 * (mqttjs/MQTT.js#1935). The receiver acks later with {@link ack}, which drops acks of an older connection epoch:
 * packet ids restart on a new connection, and the broker redelivers what was not acked. QoS1 acks are written by
 * {@link PubackBatch}, one write per turn of the event loop, not through MQTT.js.
 */
export class MqttConnection extends EventEmitter<ConnectionEvents> {
  readonly #options: ConnectionOptions;
  readonly #client: MqttClient;
  readonly #log: Logger;
  #epoch = 0;
  #reconnectAttempt = 0;
  readonly #flapDetector = new FlapDetector();
  #reconnectTimer: NodeJS.Timeout | undefined;
  #state: 'idle' | 'connecting' | 'connected' | 'offline' | 'stopping' | 'stopped' | 'failed' = 'idle';
  #fatalError: RouteMQError | undefined;
  #stopPromise: Promise<void> | undefined;
  #sessionEnded = false;
  readonly #pubacks = new PubackBatch(); // QoS1 acks leave in one write per turn of the event loop
  /** MQTT.js's callback for the packet just handed to the sink (it hands out one packet at a time). */
  #pendingDone: ((err?: Error) => void) | undefined;
  readonly #releaseDone = (): void => {
    const done = this.#pendingDone;
    this.#pendingDone = undefined;
    done?.(DEFERRED_ACK);
  };

  constructor(options: ConnectionOptions, sink: PacketSink) {
    super();
    this.#options = options;
    this.#log = options.logger;
    this.#client = mqtt.connect(options.url, {
      ...options.client,
      reconnectPeriod: 0,
      resubscribe: false,
      manualConnect: true,
      // MQTT.js calls its debug logger several times per packet; even disabled, that is ~1.5 µs a message. Keep it
      // only when someone asked for it (DEBUG=mqttjs*).
      ...(/mqttjs/.test(process.env['DEBUG'] ?? '') ? {} : { log: noop }),
    });
    // Installed before connect: a persistent session's stored messages follow the CONNACK at once.
    this.#client.handleMessage = (packet, done) => {
      const backlog = sink(packet, this.#epoch);
      // Over the receiver's backlog limit (a QoS0 flood), hold the pipeline: TCP pushes back on the broker.
      if (backlog) {
        void backlog.then(() => done(DEFERRED_ACK));
        return;
      }
      // Go on from a microtask (a promise reaction: cheaper than queueMicrotask), not at once, so a handler that
      // settles at once has finished and acked before MQTT.js hands over the next packet, instead of a whole TCP
      // read being dispatched first and piling up for the GC (BENCHMARKS.md, finding 9; measured again: calling
      // done at once for QoS0 gave 0.76 instead of 0.85 at W=4).
      this.#pendingDone = done;
      void RESOLVED.then(this.#releaseDone);
    };
    this.#client.on('connect', (connack) => this.#onConnect(connack.sessionPresent));
    this.#client.on('close', () => this.#onClose());
    this.#client.on('error', (err) => this.#onError(err));
    this.#client.on('disconnect', (packet) => this.#onServerDisconnect(packet.reasonCode));
  }

  /** Connection epoch: 1 after the first CONNACK, +1 for each reconnect. */
  get epoch(): number {
    return this.#epoch;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** The maximum packet size the broker announced in its last CONNACK (MQTT v5), if it did. */
  get serverMaximumPacketSize(): number | undefined {
    // connackPacket is private in MQTT.js's types (pinned version, covered by the packet-size test).
    const connack = (this.#client as unknown as { connackPacket?: { properties?: { maximumPacketSize?: number } } })
      .connackPacket;
    return connack?.properties?.maximumPacketSize;
  }

  get clientId(): string {
    return this.#client.options.clientId ?? '';
  }

  /**
   * Connect and resolve on the first CONNACK.
   *
   * @throws RouteMQError `RMQ_ERR_MQTT_AUTH` when the broker refuses the credentials,
   *   `RMQ_ERR_BROKER_UNREACHABLE` when no CONNACK arrives within `connectTimeoutMs`.
   */
  start(): Promise<{ sessionPresent: boolean }> {
    this.#state = 'connecting';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        const err = new RouteMQError(
          ErrorCodes.BROKER_UNREACHABLE,
          `No MQTT broker answered at ${this.#options.url} within ${this.#options.connectTimeoutMs} ms`,
        );
        void this.stop().finally(() => reject(err));
      }, this.#options.connectTimeoutMs);
      const onConnect = (_epoch: number, sessionPresent: boolean): void => {
        cleanup();
        resolve({ sessionPresent });
      };
      const onFatal = (err: RouteMQError): void => {
        cleanup();
        reject(err);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('connect', onConnect);
        this.off('fatal', onFatal);
      };
      this.on('connect', onConnect);
      this.on('fatal', onFatal);
      this.#client.connect();
    });
  }

  /**
   * Subscribe, one SUBSCRIBE per entry so each carries its own v5 subscription identifier.
   *
   * @throws RouteMQError `RMQ_ERR_MQTT_SUBSCRIBE_REFUSED` when the broker grants a failure code.
   */
  async subscribe(subscriptions: readonly Subscription[]): Promise<void> {
    const v5 = this.#client.options.protocolVersion === 5;
    await Promise.all(
      subscriptions.map(async (sub) => {
        const opts: IClientSubscribeOptions = { qos: sub.qos };
        if (v5 && sub.subscriptionId !== undefined) opts.properties = { subscriptionIdentifier: sub.subscriptionId };
        if (v5 && sub.retainHandling !== undefined) opts.rh = sub.retainHandling;
        const granted: ISubscriptionGrant[] = await this.#client.subscribeAsync(sub.topic, opts);
        for (const grant of granted) {
          if (grant.qos > 2) {
            throw new RouteMQError(
              ErrorCodes.MQTT_SUBSCRIBE_REFUSED,
              `The broker refused the subscription '${grant.topic}' (reason code 0x${grant.qos.toString(16)}); ` +
                'check the ACL for this client',
            );
          }
        }
      }),
    );
  }

  /** Unsubscribe from the given filters (used when a slot leaves for good). */
  async unsubscribe(topics: readonly string[]): Promise<void> {
    if (topics.length > 0) await this.#client.unsubscribeAsync([...topics]);
  }

  /**
   * Publish and resolve on the broker's ack (QoS≥1) or once written (QoS0).
   *
   * @throws RouteMQError `RMQ_ERR_MQTT_NOT_CONNECTED` after {@link stop}.
   */
  async publish(topic: string, payload: OutgoingPayload, options: PublishOptions = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'failed') {
      throw new RouteMQError(ErrorCodes.MQTT_NOT_CONNECTED, `Cannot publish to '${topic}': the connection is closed`);
    }
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    await this.#client.publishAsync(topic, body, {
      qos: options.qos ?? 1,
      retain: options.retain ?? false,
      ...(options.properties ? { properties: options.properties } : {}),
    });
  }

  /**
   * Ack a message received on `epoch`. An ack of an older epoch is dropped: the broker redelivers that message,
   * and the packet id may already name another one. Returns whether the ack was sent (a PUBACK leaves at the end
   * of the current turn of the event loop, with the others of that turn, unless the connection closes first).
   */
  ack(packet: IPublishPacket, epoch: number): boolean {
    if (packet.qos === 0) return true;
    if (epoch !== this.#epoch || this.#state !== 'connected' || packet.messageId === undefined) {
      this.#log.debug({ messageId: packet.messageId, epoch, current: this.#epoch }, 'stale ack dropped');
      return false;
    }
    if (packet.qos === 1) {
      this.#pubacks.add(this.#client.stream, packet.messageId);
    } else {
      const client = this.#client as unknown as ClientInternals;
      this.#pubacks.flush(); // PUBACKs of earlier messages first
      this.#client.incomingStore.del(packet, () => undefined);
      client._releaseIncomingQoS2Publish(packet.messageId);
      client._sendPacket({ cmd: 'pubcomp', messageId: packet.messageId });
    }
    return true;
  }

  /**
   * Disconnect. By default the session (and its subscriptions) is kept, so the broker queues this client's share
   * while it is away. With `endSession` (v5), the DISCONNECT sets session expiry 0 and the broker drops it.
   * Memoised; never rejects: whether the session was ended is {@link sessionEnded}.
   */
  stop(options: { endSession?: boolean } = {}): Promise<void> {
    this.#stopPromise ??= this.#doStop(options.endSession ?? false);
    return this.#stopPromise;
  }

  async #doStop(endSession: boolean): Promise<void> {
    clearTimeout(this.#reconnectTimer);
    const wasConnected = this.#state === 'connected';
    this.#state = 'stopping';
    const v5 = this.#client.options.protocolVersion === 5;
    const disconnect = endSession && v5 ? { properties: { sessionExpiryInterval: 0 } } : {};
    if (wasConnected) this.#pubacks.flush(); // before the DISCONNECT, after which the broker reads nothing
    // v5: the session ends only with a DISCONNECT that carries expiry 0, so only when one was sent.
    let disconnected = false;
    try {
      await withTimeout(this.#client.endAsync(!wasConnected, disconnect), 5_000);
      disconnected = wasConnected;
    } catch (err) {
      this.#log.warn({ err }, 'MQTT disconnect did not complete; closing the socket');
      await this.#client.endAsync(true).catch(() => undefined);
    }
    // MQTT 3.1.1 has no session expiry on DISCONNECT: a clean connect under the same id discards the session.
    if (endSession) this.#sessionEnded = v5 ? disconnected : await this.#discardSessionV4();
    this.#state = 'stopped';
  }

  /** After `stop({ endSession: true })`: whether the broker was told to drop the session (and took it). */
  get sessionEnded(): boolean {
    return this.#sessionEnded;
  }

  async #discardSessionV4(): Promise<boolean> {
    try {
      const cleaner = await withTimeout(
        mqtt.connectAsync(this.#options.url, { ...this.#options.client, clean: true, reconnectPeriod: 0 }),
        this.#options.connectTimeoutMs,
      );
      await cleaner.endAsync();
      return true;
    } catch (err) {
      this.#log.warn({ err }, 'could not discard the MQTT 3.1.1 session; it stays until the broker expires it');
      return false;
    }
  }

  #onConnect(sessionPresent: boolean): void {
    // Acks are tiny packets; Nagle would hold them back behind a delayed TCP ack (~40 ms).
    (this.#client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    this.#epoch += 1;
    this.#flapDetector.connected(Date.now());
    this.#state = 'connected';
    this.#log.info({ clientId: this.clientId, sessionPresent, epoch: this.#epoch }, 'MQTT connected');
    this.emit('connect', this.#epoch, sessionPresent);
  }

  #onClose(): void {
    this.#pubacks.discard(); // the broker redelivers what they were for
    if (this.#state === 'stopping' || this.#state === 'stopped' || this.#state === 'failed') return;
    const wasConnected = this.#state === 'connected';
    this.#state = 'offline';
    if (this.#options.reconnect === false) {
      this.#fail(
        new RouteMQError(
          ErrorCodes.MQTT_NOT_CONNECTED,
          `The connection of '${this.clientId}' closed (taken over, or the broker went away); not reconnecting`,
        ),
      );
      return;
    }
    if (wasConnected) {
      this.#log.warn({ clientId: this.clientId }, 'MQTT connection lost');
      // A long-lived connection starts the backoff over; repeated flaps mean a takeover (see FlapDetector).
      const verdict = this.#flapDetector.closed(Date.now());
      if (verdict === 'stable') this.#reconnectAttempt = 0;
      if (verdict === 'takeover') {
        this.#fail(
          new RouteMQError(
            ErrorCodes.MQTT_SESSION_TAKEN_OVER,
            `The broker closed the connection of '${this.clientId}' ${this.#flapDetector.flaps} times right after ` +
              'connecting; another client is probably using this client id. ' +
              'Giving the slot up instead of fighting for it',
          ),
        );
      }
      if (this.#fatalError) return;
    }
    this.emit('close');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== undefined || this.#fatalError) return;
    const delay = backoffDelayMs(this.#reconnectAttempt++, {
      baseMs: this.#options.reconnectMinMs,
      maxMs: this.#options.reconnectMaxMs,
    });
    this.#log.debug({ delayMs: delay }, 'MQTT reconnect scheduled');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'offline') return;
      this.#state = 'connecting';
      this.#client.reconnect();
    }, delay);
  }

  #onError(err: Error & { code?: string | number }): void {
    const classified = classifyConnectError(err, this.#options.url);
    if (classified) {
      this.#fail(classified);
      return;
    }
    this.#log.debug({ err: { message: err.message, code: err.code } }, 'MQTT transport error');
  }

  #onServerDisconnect(reasonCode: number | undefined): void {
    if (isSessionTakenOver(reasonCode)) {
      this.#fail(
        new RouteMQError(
          ErrorCodes.MQTT_SESSION_TAKEN_OVER,
          `Another client connected with client id '${this.clientId}'; this one stops instead of fighting for it`,
        ),
      );
      return;
    }
    this.#log.warn({ reasonCode }, 'broker sent DISCONNECT');
  }

  #fail(err: RouteMQError): void {
    if (this.#fatalError) return;
    this.#fatalError = err;
    this.#state = 'failed';
    clearTimeout(this.#reconnectTimer);
    this.#client.end(true);
    this.#log.error({ code: err.code, clientId: this.clientId }, err.message);
    this.emit('fatal', err);
  }
}
