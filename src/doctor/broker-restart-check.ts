import type { BrokerIdentity } from '../mqtt/broker-identity.js';
import type { RouteTable } from '../router/route-table.js';
import type { DoctorCheck } from './doctor-check.js';

const CHECK = 'broker restart gap';

/**
 * Warn about what a broker restart does to shared routes. Mosquitto (read in the persistence writer of 2.0.11
 * through 2.0.22 and 2.1.2) keeps persistent sessions across a restart but not their `$share` subscriptions: the
 * sessions come back with `sessionPresent` and their queued messages, yet are no longer in the group, so messages
 * published between the broker's start and each worker's re-SUBSCRIBE match no subscriber and are dropped. A v5
 * publisher sees PUBACK reason 0x10 (no matching subscribers); MQTT.js counts it as a success, and a v3.1.1
 * publisher cannot tell at all. No I/O: the broker identity comes from the earlier check.
 */
export function checkBrokerRestartGap(broker: BrokerIdentity, table: RouteTable): DoctorCheck {
  const shared = table.routes.filter((r) => r.shared);
  if (shared.length === 0) {
    return { check: CHECK, status: 'pass', detail: 'no shared routes: plain subscriptions survive a broker restart' };
  }
  if (broker.product !== 'mosquitto') {
    return {
      check: CHECK,
      status: 'skip',
      detail:
        `not measured on ${broker.version ?? 'this broker'}; on Mosquitto a broker restart drops $share ` +
        'subscriptions until each worker subscribes again',
    };
  }
  return {
    check: CHECK,
    status: 'warn',
    detail:
      `${broker.version ?? 'Mosquitto'} keeps sessions across a broker restart but not their $share subscriptions: ` +
      `messages to ${shared.map((r) => r.filter).join(', ')} published after the broker starts and before the ` +
      'workers subscribe again are acked to the publisher and dropped (RouteMQ subscribes again on every connect)',
    fix:
      'keep the broker restart window short (workers reconnect within MQTT_RECONNECT_MIN_MS..MQTT_RECONNECT_MAX_MS), ' +
      'or have publishers use MQTT 5 and retry a publish whose PUBACK says 0x10 (no matching subscribers)',
  };
}
