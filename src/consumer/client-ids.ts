import type { ResolvedConfig } from '../config/schema.js';
import { fnv1a32 } from '../util/fnv1a.js';

/**
 * The client id of the main process: `<MQTT_CLIENT_ID>-<instance>-main`. Stable across restarts, so the
 * persistent session (and what the broker queued for it) is found again; unique per instance, so two hosts never
 * kick each other.
 */
export function mainClientId(config: ResolvedConfig): string {
  return `${config.mqtt.clientIdPrefix}-${config.routemq.instanceId}-main`;
}

/**
 * The client id of one worker slot: `<MQTT_CLIENT_ID>-<instance>-<pool>-<slot>-<tag>`, where `<tag>` is
 * {@link subscriptionSetTag} of the pool's subscriptions (`$share/<group>/<filter>`, so the share group counts).
 * A restart finds its session again; a deploy that changes what the pool subscribes to (a filter, the group, a
 * route added to a named pool) gets new sessions, and the old ones are adopted (docs/sessions.md). So a worker
 * session only ever holds the subscriptions its client id names: one whose pool has a single subscription can take
 * it without a v5 subscription identifier (see {@link namesOnlySubscription}).
 */
export function workerClientId(config: ResolvedConfig, pool: string, slot: number, filters: readonly string[]): string {
  return `${config.mqtt.clientIdPrefix}-${config.routemq.instanceId}-${pool}-${slot}-${subscriptionSetTag(filters)}`;
}

/** 8 hex digits naming a set of MQTT subscription topics (order and repeats ignored): FNV-1a of the sorted set. */
export function subscriptionSetTag(filters: readonly string[]): string {
  return fnv1a32([...new Set(filters)].sort().join('\n'))
    .toString(16)
    .padStart(8, '0');
}

/**
 * Whether `clientId` is a worker client id that names exactly this one subscription, so that its session can hold
 * no other (see {@link workerClientId}).
 */
export function namesOnlySubscription(clientId: string, filters: readonly string[]): boolean {
  return new Set(filters).size === 1 && clientId.endsWith(`-${subscriptionSetTag(filters)}`);
}
