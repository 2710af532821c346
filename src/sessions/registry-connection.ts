/**
 * @module
 * The session registry's MQTT connection: a clean session of its own, with a will, that subscribes to every record
 * of one app and group, publishes records retained at QoS 1, and knows when everything sent before a moment has
 * come back (its read barrier). What the records say is `SessionRegistry`'s business, not this file's.
 */
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyConnectError } from '../mqtt/connect-errors.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import { withTimeout } from '../util/with-timeout.js';
import type { RegistryTopicKind, RegistryTopics } from './records.js';

/** Options of {@link RegistryConnection}. */
export interface RegistryConnectionOptions {
  /** The broker's address, credentials and TLS, and `mqtt.connectTimeoutMs` for the connect and every barrier. */
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly topics: RegistryTopics;
  /** This process's run id: read-barrier markers start with it. */
  readonly run: string;
  /** A message arrived on a record's topic; an empty `payload` is a removed record. */
  readonly onRecord: (
    kind: Exclude<RegistryTopicKind, 'sync'>,
    key: string,
    payload: Buffer,
    retained: boolean,
  ) => void;
  /** A CONNACK arrived, the first one included, with its session-present flag. */
  readonly onConnect: (sessionPresent: boolean) => void;
}

/** The will {@link RegistryConnection.open} connects with: published retained, QoS 1, when the process dies. */
export interface RegistryWill {
  readonly topic: string;
  readonly payload: string;
}

/**
 * One MQTT client for the registry (clean, reconnecting every second). Before {@link open} it has no client:
 * publishing and the barrier then do nothing, and {@link connected} is false.
 */
export class RegistryConnection {
  readonly #o: RegistryConnectionOptions;
  #client: MqttClient | undefined;
  /** Read-barrier markers waiting to come back, by marker. */
  readonly #echoes = new Map<string, () => void>();

  constructor(options: RegistryConnectionOptions) {
    this.#o = options;
  }

  /** Whether the client is connected now. */
  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /**
   * Connect as `clientId` with `will`, subscribe to every record of this app and group, and resolve once the
   * retained ones have all come in (a read barrier). A refused connect fails at once; a broker that does not answer
   * fails after `mqtt.connectTimeoutMs`. The client is ended on failure.
   *
   * @throws RouteMQError `RMQ_ERR_BROKER_UNREACHABLE` and the other connect codes; `RMQ_ERR_REGISTRY_FAILED` when
   *   the subscription is refused or the records cannot be read (the barrier's marker does not come back).
   */
  async open(clientId: string, will: RegistryWill): Promise<void> {
    const { config } = this.#o;
    const base = connectionOptionsFromConfig(config, clientId, this.#o.logger);
    const client = mqtt.connect(base.url, {
      ...base.client,
      clean: true,
      properties: {},
      reconnectPeriod: 1000,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
      log: () => undefined,
    });
    this.#client = client;
    client.on('message', (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    client.on('error', (err) => this.#o.logger.debug({ err: errorMessageOf(err) }, 'registry connection error'));
    client.on('connect', (connack) => this.#o.onConnect(connack.sessionPresent));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(new RouteMQError(ErrorCodes.BROKER_UNREACHABLE, `No MQTT broker answered at ${base.url}`));
      }, config.mqtt.connectTimeoutMs);
      const onError = (err: Error & { code?: string | number }): void => {
        // Refused credentials and the like fail at once, as the consumers' connections do.
        const classified = classifyConnectError(err, base.url);
        if (!classified) return;
        clearTimeout(timer);
        client.off('error', onError);
        client.end(true);
        reject(classified);
      };
      client.on('error', onError);
      client.once('connect', () => {
        clearTimeout(timer);
        client.off('error', onError);
        resolve();
      });
    });
    try {
      const granted = await client.subscribeAsync(this.#o.topics.all, { qos: 1 });
      const refused = granted.find((g) => g.qos >= 0x80);
      if (refused) {
        throw new RouteMQError(
          ErrorCodes.REGISTRY_FAILED,
          `SUBACK reason code 0x${refused.qos.toString(16)} for ${this.#o.topics.all}`,
        );
      }
      await withTimeout(this.barrier(), config.mqtt.connectTimeoutMs);
    } catch (err) {
      client.end(true);
      throw registryError('read the session registry', err);
    }
  }

  /**
   * Publish `payload` retained at QoS 1 (an empty one removes the record).
   *
   * @throws RouteMQError `RMQ_ERR_REGISTRY_FAILED` naming the topic.
   */
  async publish(topic: string, payload: string): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      await client.publishAsync(topic, payload, { qos: 1, retain: true });
    } catch (err) {
      throw registryError(`publish ${topic}`, err);
    }
  }

  /**
   * Resolve once a marker published now has come back: every record sent before it has been taken in.
   *
   * @throws RouteMQError `RMQ_ERR_TIMED_OUT` when the marker is not back within `mqtt.connectTimeoutMs`; the
   *   client's own error when the marker cannot be published.
   */
  async barrier(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    const marker = `${this.#o.run}-${Math.random().toString(36).slice(2)}`;
    const echoed = new Promise<void>((resolve) => this.#echoes.set(marker, resolve));
    await client.publishAsync(`${this.#o.topics.root}/sync/${marker}`, '', { qos: 1 });
    // The marker never comes back when this identity may write under the prefix but not read it (an ACL; on MQTT
    // 3.1.1 a denied publish is also dropped in silence): fail rather than wait forever.
    const ms = this.#o.config.mqtt.connectTimeoutMs;
    await withTimeout(echoed, ms).catch(() => {
      this.#echoes.delete(marker);
      throw new RouteMQError(
        ErrorCodes.TIMED_OUT,
        `nothing published under ${this.#o.topics.root} came back within ${ms} ms`,
      );
    });
  }

  /**
   * Say `goodbye` (the last records) and disconnect without the will, each within `ms`; skip the goodbye when not
   * connected. Gives up on the goodbye as soon as the connection drops: mqtt.js keeps an unacked QoS 1 publish for
   * the next connection and reconnects every second, forever when the broker is gone for good (a development
   * broker stopped by the same Ctrl-C). On giving up the socket is closed without a DISCONNECT and the reconnects
   * end; the client is always ended when this settles. Nothing to do before {@link open}.
   *
   * @throws the goodbye's error; RouteMQError `RMQ_ERR_REGISTRY_FAILED` when the connection dropped during the
   *   goodbye, `RMQ_ERR_TIMED_OUT` when the goodbye or the disconnect took longer than `ms`.
   */
  async close(goodbye: () => Promise<void>, ms: number): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      if (client.connected) {
        await withTimeout(whileConnected(client, goodbye), ms);
        await withTimeout(client.endAsync(), ms);
      }
    } finally {
      // Ended already after a clean disconnect; else drop the socket (whatever it is doing) and stop reconnecting.
      if (!client.disconnected) {
        await client.endAsync(true).catch(() => undefined);
        client.stream.destroy();
      }
    }
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const named = this.#o.topics.parse(topic);
    if (!named) return;
    const { kind, key } = named;
    if (kind === 'sync') {
      this.#echoes.get(key)?.();
      this.#echoes.delete(key);
      return;
    }
    this.#o.onRecord(kind, key, payload, retained);
  }
}

/** Run `work`, and reject as soon as `client`'s connection closes before it settles. */
async function whileConnected<T>(client: MqttClient, work: () => Promise<T>): Promise<T> {
  let onClose: () => void = () => undefined;
  const lost = new Promise<never>((_, reject) => {
    onClose = () => reject(new RouteMQError(ErrorCodes.REGISTRY_FAILED, 'the connection to the broker closed'));
    client.once('close', onClose);
  });
  try {
    return await Promise.race([work(), lost]);
  } finally {
    client.off('close', onClose);
  }
}

function registryError(what: string, err: unknown): RouteMQError {
  return new RouteMQError(
    ErrorCodes.REGISTRY_FAILED,
    `Could not ${what} (${errorMessageOf(err)}); this identity needs read and write access to ROUTEMQ_REGISTRY_PREFIX/#`,
    { cause: err },
  );
}
