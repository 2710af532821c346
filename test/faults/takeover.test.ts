import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { steadyPublisher } from '../helpers/load.js';
import { waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { report, verdict } from '../helpers/checker.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/faults/routers', import.meta.url));

describe('fault suite: a second process with the same client ids', () => {
  const f = useFixture({ routers: ROUTERS });

  it("10. a second process started with a live slot's client id: one side gives up, no kick ping-pong, nothing lost", async () => {
    const startedAt = Date.now();
    // One env for both: the same prefix and instance id, so every client id of the second process clashes with the first's.
    const env = f.env({
      ROUTEMQ_INSTANCE_ID: 'same-host',
      ROUTEMQ_RESTART_MAX_MS: '60000',
      MQTT_RECONNECT_MIN_MS: '100',
      MQTT_RECONNECT_MAX_MS: '500',
      FAULTS_WORKERS: '1',
    });
    const first = await f.serve(env);
    const publisher = await f.connect();
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 200, total: 3000 });
    await waitUntil(() => readSeen(env.SEEN_FILE).length >= 500, 20_000, '500 deliveries');
    const second = f.spawn(['start'], env);
    await load.done;
    await waitUntil(() => verdict(load.acked, readSeen(env.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const v = verdict(load.acked, readSeen(env.SEEN_FILE));
    report('10-client-id-clash', v, startedAt);
    expect(v.lost).toEqual([]);
    const logs = [...first.logs(), ...second.logs()];
    // Each clashing connection gives up after 3 closes right after connecting: a bounded scuffle, not a war.
    expect(logs.filter((l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER').length).toBeGreaterThanOrEqual(1);
    const lostLines = (): number =>
      [...first.logs(), ...second.logs()].filter((l) => l['msg'] === 'MQTT connection lost').length;
    const settled = lostLines();
    expect(settled).toBeLessThanOrEqual(12);
    await new Promise((r) => setTimeout(r, 3000));
    expect(lostLines()).toBe(settled);
  }, 120_000);
});
