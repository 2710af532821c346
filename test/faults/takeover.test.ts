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

  it("10. a second process started with a live instance's client ids: it refuses before connecting (the registry shows them live), no kick, nothing lost", async () => {
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
    // Another state directory, as on another host: the instance lock cannot see the first, the registry can.
    const second = f.spawn(['start'], { ...env, ROUTEMQ_STATE_DIR: f.mkdir('other-host') });
    const secondExit = await second.exited;
    await load.done;
    await waitUntil(() => verdict(load.acked, readSeen(env.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const v = verdict(load.acked, readSeen(env.SEEN_FILE));
    report('10-client-id-clash', v, startedAt);
    expect(v.lost).toEqual([]);
    // The second refused with a code and a non-zero exit, before any of its connections took a session over.
    expect(secondExit.code).toBe(1);
    expect(second.lines.join('\n')).toContain('RMQ_ERR_INSTANCE_ID_IN_USE');
    expect(second.logs().some((l) => l['msg'] === 'MQTT connected')).toBe(false);
    expect(first.logs().filter((l) => l['msg'] === 'MQTT connection lost')).toEqual([]);
    expect(first.logs().filter((l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER')).toEqual([]);
  }, 120_000);
});
