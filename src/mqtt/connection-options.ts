import { readTlsFiles } from '../util/tls-files.js';
import type { IClientOptions } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

/** Options of `MqttConnection`. Built from the config by `connectionOptionsFromConfig`. */
export interface ConnectionOptions {
  readonly url: string;
  /** MQTT.js options: client id, credentials, TLS, v5 properties. `reconnectPeriod` and `manualConnect` are ours. */
  readonly client: IClientOptions;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** How long `MqttConnection.start` waits for the first CONNACK before `RMQ_ERR_BROKER_UNREACHABLE`. */
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
  /**
   * Reconnect after the transport closes. Off for a connection that must never fight for its client id (an
   * adoption): a close then ends it with `fatal` (`RMQ_ERR_MQTT_NOT_CONNECTED`). @defaultValue true
   */
  readonly reconnect?: boolean;
}

/**
 * Build the options of one connection from the config: a fixed client id, a persistent session (`clean: false`,
 * v5 session expiry), the receive maximum that bounds unacked messages, credentials and TLS files.
 */
export function connectionOptionsFromConfig(
  config: ResolvedConfig,
  clientId: string,
  logger: Logger,
): ConnectionOptions {
  const m = config.mqtt;
  const client: IClientOptions = {
    clientId,
    protocolVersion: m.protocolVersion,
    clean: m.cleanSession,
    keepalive: m.keepaliveS,
    connectTimeout: m.connectTimeoutMs,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(m.password !== undefined ? { password: m.password.reveal() } : {}),
    ...(m.protocolVersion === 5
      ? {
          properties: {
            sessionExpiryInterval: m.cleanSession ? 0 : m.sessionExpiryS,
            receiveMaximum: m.receiveMaximum,
          },
        }
      : {}),
  };
  if (m.protocol === 'mqtts' || m.protocol === 'wss') {
    Object.assign(client, readTlsFiles(m.tls));
    client.rejectUnauthorized = !m.tls.insecure;
  }
  return {
    url: m.url,
    client,
    reconnectMinMs: m.reconnectMinMs,
    reconnectMaxMs: m.reconnectMaxMs,
    connectTimeoutMs: m.connectTimeoutMs,
    logger,
  };
}
