import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { ConnectionOptions } from './connection-options.js';

/**
 * Connect a short-lived probe client with the app's broker address, credentials and TLS, but its own random client
 * id (`<idPrefix>-<8 hex>`), a clean session, no v5 CONNECT properties and no reconnect, so that no session of the
 * app is touched. The caller ends it.
 *
 * @param connectTimeoutMs how long to wait for the CONNACK; default `min(options.connectTimeoutMs, 5000)`.
 * @throws what `mqtt.connectAsync` throws (the broker refused or did not answer).
 */
export function connectProbeClient(
  options: ConnectionOptions,
  idPrefix: string,
  connectTimeoutMs = Math.min(options.connectTimeoutMs, 5000),
): Promise<MqttClient> {
  const { properties: _properties, ...base } = options.client;
  return mqtt.connectAsync(options.url, {
    ...base,
    clientId: `${idPrefix}-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: connectTimeoutMs,
  });
}
