import { fnv1a32 } from '../util/fnv1a.js';

/** The largest MQTT v5 subscription identifier (a variable byte integer: 2^28 − 1). */
const MAX_SUBSCRIPTION_ID = 268_435_455;

/**
 * The v5 subscription identifier of a subscription, derived from what it subscribes to (`mqttTopic`) rather than
 * from registration order, so it stays the same across deploys: a copy the broker queued for a persistent session
 * under the previous deploy's identifier still names the same route after routes were added, removed or reordered.
 * FNV-1a over the UTF-16 code units, folded into 1…2^28−1; a clash with an identifier in `taken` moves to the next
 * free one (in registration order, so only a clash can make an identifier depend on order).
 */
export function subscriptionIdFor(mqttTopic: string, taken: ReadonlySet<number>): number {
  let id = (fnv1a32(mqttTopic) % MAX_SUBSCRIPTION_ID) + 1;
  while (taken.has(id)) id = (id % MAX_SUBSCRIPTION_ID) + 1;
  return id;
}
