import type { ResolvedConfig } from '../config/schema.js';

/**
 * The client id of the main process: `<MQTT_CLIENT_ID>-<instance>-main`. Stable across restarts, so the
 * persistent session (and what the broker queued for it) is found again; unique per instance, so two hosts never
 * kick each other.
 */
export function mainClientId(config: ResolvedConfig): string {
  return `${config.mqtt.clientIdPrefix}-${config.routemq.instanceId}-main`;
}

/** The client id of one worker slot: `<MQTT_CLIENT_ID>-<instance>-<pool>-<slot>`. */
export function workerClientId(config: ResolvedConfig, pool: string, slot: number): string {
  return `${config.mqtt.clientIdPrefix}-${config.routemq.instanceId}-${pool}-${slot}`;
}
