import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { classifyConnectError } from '../mqtt/connect-errors.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import { withTimeout } from '../util/with-timeout.js';
import { parseRecord, registryTopics } from './records.js';
import type { RegistryTopics } from './records.js';
import { RegistryView } from './registry-view.js';

/** The instance records' refresh period the running instances use (SessionRegistry's default), for staleness. */
const REFRESH_MS = 10_000;

/**
 * One look at the session registry of an app and group, for operators (`routemq sessions`): a short-lived clean MQTT
 * connection (no will, no session left behind) that reads every retained record once, and can remove records.
 * It never publishes an instance record, so it never counts as a live instance. Close it with {@link close}.
 */
export class RegistrySnapshot {
  readonly view = new RegistryView(REFRESH_MS);
  readonly topics: RegistryTopics;
  /** When the records were read (`Date.now()`). */
  readAt = 0;
  readonly #client: MqttClient;

  private constructor(client: MqttClient, topics: RegistryTopics) {
    this.#client = client;
    this.topics = topics;
  }

  /**
   * Connect (clean session, client id `<MQTT_CLIENT_ID>-sessions-<random>`), read every record of this app and
   * group, and return the snapshot. The connection stays open for {@link remove} until {@link close}.
   *
   * @throws RouteMQError `RMQ_ERR_BROKER_UNREACHABLE`, `RMQ_ERR_MQTT_AUTH`, `RMQ_ERR_MQTT_CONNECT_REFUSED`,
   *   `RMQ_ERR_REGISTRY_FAILED` (the broker refused the subscription to the registry).
   */
  static async read(config: ResolvedConfig, logger: Logger): Promise<RegistrySnapshot> {
    const topics = registryTopics(config.routemq.registryPrefix, config.routemq.appName, config.mqtt.groupName);
    const clientId = `${config.mqtt.clientIdPrefix}-sessions-${randomUUID().slice(0, 8)}`;
    const client = await connectOnce(config, clientId, logger, { clean: true, properties: {} });
    const snapshot = new RegistrySnapshot(client, topics);
    const marker = `${clientId}-${randomUUID().slice(0, 8)}`;
    try {
      const synced = new Promise<void>((resolve) => {
        client.on('message', (topic, payload, packet) => {
          const named = topics.parse(topic);
          if (named?.kind === 'sync') {
            if (named.key === marker) resolve();
          } else if (named) snapshot.view.apply(named.kind, named.key, parseRecord(payload), Date.now(), packet.retain);
        });
      });
      const granted = await client.subscribeAsync(topics.all, { qos: 1 });
      if (granted.some((g) => g.qos > 2))
        throw new RouteMQError(ErrorCodes.REGISTRY_FAILED, `the broker refused the subscription to ${topics.all}`);
      // A marker published after the subscription comes back after every retained record: a read barrier.
      await client.publishAsync(`${topics.root}/sync/${marker}`, '', { qos: 1 });
      // It never comes back when this identity may write there but not read (an ACL; MQTT 3.1.1 also drops a
      // denied publish in silence): fail instead of waiting forever.
      await withTimeout(synced, config.mqtt.connectTimeoutMs).catch(() => {
        throw new RouteMQError(
          ErrorCodes.REGISTRY_FAILED,
          `nothing published under ${topics.root} came back within ${config.mqtt.connectTimeoutMs} ms`,
        );
      });
    } catch (err) {
      await client.endAsync(true).catch(() => undefined);
      throw new RouteMQError(
        ErrorCodes.REGISTRY_FAILED,
        `Could not read the session registry at ${topics.root} (${errorMessageOf(err)}); this identity needs read ` +
          'and write access to ROUTEMQ_REGISTRY_PREFIX/#',
        { cause: err },
      );
    }
    snapshot.readAt = Date.now();
    return snapshot;
  }

  /** Remove a session's record and its claim (empty retained messages). */
  async remove(clientId: string): Promise<void> {
    await this.#clear(this.topics.session(clientId));
    if (this.view.claims.has(clientId)) await this.#clear(this.topics.claim(clientId));
  }

  /** Remove an instance's presence record. */
  async removeInstance(instance: string): Promise<void> {
    await this.#clear(this.topics.instance(instance));
  }

  /** Disconnect. Never rejects. */
  async close(): Promise<void> {
    await this.#client.endAsync().catch(() => this.#client.endAsync(true).catch(() => undefined));
  }

  async #clear(topic: string): Promise<void> {
    try {
      await this.#client.publishAsync(topic, '', { qos: 1, retain: true });
    } catch (err) {
      throw new RouteMQError(ErrorCodes.REGISTRY_FAILED, `Could not remove ${topic} (${errorMessageOf(err)})`, {
        cause: err,
      });
    }
  }
}

/**
 * End a session without handling anything it holds: connect under its client id with a clean start (MQTT 3.1.1: a
 * clean session), which makes the broker discard the session, its subscriptions and its queued messages, with
 * session expiry 0, then disconnect. A client connected under that id (a live owner) is disconnected by the broker.
 *
 * @throws RouteMQError the connect codes (`RMQ_ERR_BROKER_UNREACHABLE`, `RMQ_ERR_MQTT_AUTH`, …).
 */
export async function discardSession(config: ResolvedConfig, clientId: string, logger: Logger): Promise<void> {
  const v5 = config.mqtt.protocolVersion === 5;
  const client = await connectOnce(config, clientId, logger, {
    clean: true,
    properties: v5 ? { sessionExpiryInterval: 0 } : {},
  });
  await client.endAsync();
}

/** Connect once (no reconnect) with the config's address, credentials and TLS; fail fast on a refusal. */
async function connectOnce(
  config: ResolvedConfig,
  clientId: string,
  logger: Logger,
  overrides: IClientOptions,
): Promise<MqttClient> {
  const base = connectionOptionsFromConfig(config, clientId, logger);
  const client = mqtt.connect(base.url, { ...base.client, ...overrides, reconnectPeriod: 0, log: () => undefined });
  let onError: (err: Error & { code?: string | number }) => void = () => undefined;
  let onClose: () => void = () => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RouteMQError(ErrorCodes.BROKER_UNREACHABLE, `No MQTT broker answered at ${base.url}`)),
        config.mqtt.connectTimeoutMs,
      );
      const fail = (err: RouteMQError): void => {
        clearTimeout(timer);
        reject(err);
      };
      onError = (err) =>
        fail(
          classifyConnectError(err, base.url) ??
            new RouteMQError(
              ErrorCodes.BROKER_UNREACHABLE,
              `Could not connect to the MQTT broker at ${base.url}: ${err.message}`,
              { cause: err },
            ),
        );
      onClose = () =>
        fail(new RouteMQError(ErrorCodes.BROKER_UNREACHABLE, `The MQTT broker at ${base.url} closed the connection`));
      client.on('error', onError);
      client.on('close', onClose);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (err) {
    await client.endAsync(true).catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    client.off('close', onClose);
  }
  client.on('error', (err) => logger.debug({ err: errorMessageOf(err) }, 'operator connection error'));
  return client;
}
