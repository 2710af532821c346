import type { MqttClient } from 'mqtt';
import type { ConnectionOptions } from './connection-options.js';
import { connectProbeClient } from './probe-client.js';

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
  let client: MqttClient | undefined;
  try {
    client = await connectProbeClient(options, 'routemq-probe', timeoutMs);
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
