import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { ConnectionOptions } from './connection-options.js';

/** Which broker this is, from `$SYS/broker/version` (Mosquitto) or `$SYS/brokers/+/version` (EMQX). */
export interface BrokerIdentity {
  readonly product: 'mosquitto' | 'emqx' | 'unknown';
  /** The version string as the broker published it, when it did. */
  readonly version: string | undefined;
}

/**
 * Ask the broker what it is, with a short-lived clean client (its own random id, so no session is touched).
 * Resolves `unknown` when `$SYS` is not readable within `timeoutMs`; never rejects.
 */
export async function detectBroker(options: ConnectionOptions, timeoutMs = 1500): Promise<BrokerIdentity> {
  let client: mqtt.MqttClient | undefined;
  try {
    const { properties: _p, ...base } = options.client;
    client = await mqtt.connectAsync(options.url, {
      ...base,
      clientId: `routemq-probe-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    const c = client;
    return await new Promise<BrokerIdentity>((resolve) => {
      const timer = setTimeout(() => resolve({ product: 'unknown', version: undefined }), timeoutMs);
      c.on('message', (topic, payload) => {
        clearTimeout(timer);
        const version = payload.toString();
        // Mosquitto: `$SYS/broker/version` = "mosquitto version 2.0.11"; EMQX: `$SYS/brokers/<node>/version`.
        if (topic.startsWith('$SYS/brokers/')) resolve({ product: 'emqx', version });
        else resolve({ product: version.toLowerCase().includes('mosquitto') ? 'mosquitto' : 'unknown', version });
      });
      c.subscribeAsync(['$SYS/broker/version', '$SYS/brokers/+/version'], { qos: 0 }).catch(() => undefined);
    });
  } catch {
    return { product: 'unknown', version: undefined };
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}
