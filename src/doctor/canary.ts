import type { IClientPublishOptions } from 'mqtt';

/**
 * Message expiry of every message the doctor publishes, seconds (MQTT 5). The doctor's own probe subscribers are
 * online and get them at once; a stopped app's persistent sessions that also subscribe to those topics queue them,
 * and the broker drops them once expired, so they never reach a later start (Mosquitto counts whole seconds: gone
 * within `CANARY_EXPIRY_S` + 1 s).
 */
export const CANARY_EXPIRY_S = 2;

/**
 * How the doctor publishes its canaries and probes, so that none of them waits in a session for a later start of
 * the app and runs its handlers (or lands on its dead-letter topic):
 *
 * - MQTT 5: QoS 1 with a message expiry of {@link CANARY_EXPIRY_S}.
 * - MQTT 3.1.1 has no message expiry. The nearest safe behaviour is QoS 0: brokers do not queue QoS 0 messages
 *   for offline sessions (Mosquitto's `queue_qos0_messages` is false by default), so the canary reaches online
 *   subscribers only. The price: a QoS 0 canary lost in transit reads as missing permission (a false failure, never
 *   a false pass), and a broker with `queue_qos0_messages true` queues it after all.
 */
export function canaryPublishOptions(protocolVersion: 3 | 4 | 5 | undefined): IClientPublishOptions {
  return protocolVersion === 5 ? { qos: 1, properties: { messageExpiryInterval: CANARY_EXPIRY_S } } : { qos: 0 };
}
