import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SpoolStore } from '../../src/dlq/spool-store.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { useFixture } from '../helpers/fixture.js';
import type { TestEnv } from '../helpers/fixture.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';
import { waitUntil } from '../helpers/mqtt.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/poison/routers', import.meta.url));
/** `ROUTEMQ_MAX_CRASHES`'s default. */
const MAX_CRASHES = 2;
const GOOD = ['g1', 'g2', 'g3', 'g4', 'g5'];

/** Every handler run the app recorded, by id. */
function runs(seenFile: string): Map<string, number> {
  const counts = new Map<string, number>();
  if (!existsSync(seenFile)) return counts;
  for (const line of readFileSync(seenFile, 'utf8').split('\n').filter(Boolean)) {
    const id = line.split('\t')[0] ?? '';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every dead letter of the spool under `stateDir`, read as another process (the CLI) would. */
async function spooled(stateDir: string): Promise<DeadLetterEnvelope[]> {
  const store = new SpoolStore({ dir: join(stateDir, 'dlq'), maxEntries: 1e6, maxBytes: 1e9, readOnly: true });
  await store.open();
  const all = await Promise.all((await store.list()).map((s) => store.get(s.id)));
  await store.close();
  return all.filter((e): e is DeadLetterEnvelope => e !== undefined);
}

function logsOf(app: SpawnedApp, msg: string): Record<string, unknown>[] {
  return app.logs().filter((l) => l['msg'] === msg);
}

describe('a message that kills its worker', () => {
  const f = useFixture({ routers: ROUTERS });

  function env(extra: Record<string, string> = {}): TestEnv & { ROUTEMQ_STATE_DIR: string } {
    // A short first restart delay keeps the test quick; everything else (ROUTEMQ_MAX_CRASHES too) is the default.
    return { ...f.env({ ROUTEMQ_RESTART_BASE_MS: '100', ...extra }), ROUTEMQ_STATE_DIR: f.mkdir('state') };
  }

  /** Publish the poison message, then the 5 good ones, all QoS1. */
  async function publish(poison: Record<string, boolean>): Promise<void> {
    const client = await f.connect();
    await client.publishAsync('poison/p', JSON.stringify(poison), { qos: 1 });
    for (const id of GOOD) await client.publishAsync(`poison/${id}`, '{}', { qos: 1 });
  }

  /** Wait until the poison message is dead-lettered and the good ones handled; stop the app; check all of it. */
  async function expectDeadLetteredAndGoodHandled(
    app: SpawnedApp,
    e: TestEnv,
    stateDir: string,
    maxRuns = MAX_CRASHES,
  ): Promise<void> {
    await app.waitForLog((l) => l['code'] === 'RMQ_ERR_HANDLER_CRASHED', 60_000);
    await waitUntil(() => GOOD.every((id) => runs(e.SEEN_FILE).has(id)), 30_000, 'the 5 good messages handled');
    expect((await app.stop()).code).toBe(0);

    const counted = runs(e.SEEN_FILE);
    // At most MAX_CRASHES runs, each ending in a death: with the delivery that dead-letters it, MAX_CRASHES + 1.
    expect(counted.get('p')).toBeGreaterThanOrEqual(1);
    expect(counted.get('p')).toBeLessThanOrEqual(maxRuns);
    for (const id of GOOD) expect(counted.get(id), id).toBe(1);
    expect([...counted.keys()].sort()).toEqual(['p', ...GOOD].sort());

    const letters = await spooled(stateDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      topic: 'poison/p',
      route: 'poison/{id}',
      error: { code: 'RMQ_ERR_HANDLER_CRASHED' },
      attempts: MAX_CRASHES,
      pool: 'poison',
      slot: 0,
    });
  }

  /** Every death is reported as a crash: never as a failed start, and the pool never degraded. */
  function expectCrashesNotFailedStarts(app: SpawnedApp, deaths: number): void {
    const exits = logsOf(app, 'worker exited unexpectedly');
    expect(exits).toHaveLength(deaths);
    for (const line of exits) expect(line['cause']).toBe('crash');
    expect(logsOf(app, 'worker restart failed')).toEqual([]);
    expect(app.lines.filter((l) => l.includes('failed to start'))).toEqual([]);
    expect(logsOf(app, 'pool degraded: crash loop')).toEqual([]);
  }

  it('dead-letters a message that SIGKILLs its worker after ROUTEMQ_MAX_CRASHES deaths; the 5 behind it flow', async () => {
    const e = env();
    const app = await f.serve(e);
    await publish({ kill: true });
    await expectDeadLetteredAndGoodHandled(app, e, e.ROUTEMQ_STATE_DIR);
    expectCrashesNotFailedStarts(app, runs(e.SEEN_FILE).get('p') ?? 0);
  });

  it('counts an exception thrown outside the handler as a death with the message in hand', async () => {
    // One handler at a time: the good messages wait (unacked, not run) behind the poison. With more, they run
    // while it waits for its timer, but their PUBACKs queue behind its own (acks go in arrival order), so each
    // death makes the broker redeliver them and they run again: at least once, as promised, but not exactly once.
    const e = env({ ROUTEMQ_CONCURRENCY: '1' });
    const app = await f.serve(e);
    await publish({ throwOutside: true });
    await expectDeadLetteredAndGoodHandled(app, e, e.ROUTEMQ_STATE_DIR);
    // The worker's last words name every message in hand, so the first death is counted too: exactly MAX_CRASHES.
    expect(runs(e.SEEN_FILE).get('p')).toBe(MAX_CRASHES);
    expectCrashesNotFailedStarts(app, MAX_CRASHES);
  });

  it('forgets the counts when the main process restarts: at most ROUTEMQ_MAX_CRASHES more runs', async () => {
    // First process: the worker dies once, and its restart is far off, so the app stops with the slot empty.
    const first = env({ ROUTEMQ_RESTART_BASE_MS: '600000' });
    const stateDir = first.ROUTEMQ_STATE_DIR;
    const app1 = await f.serve(first);
    await publish({ kill: true });
    await app1.waitForLog((l) => l['msg'] === 'worker exited unexpectedly');
    expect((await app1.stop()).code).toBe(0);
    expect(runs(first.SEEN_FILE).get('p')).toBe(1);

    // Second process, same sessions (client ids) and state: it starts counting from 0.
    const second = { ...first, ROUTEMQ_RESTART_BASE_MS: '100' };
    const app2 = await f.serve(second);
    await expectDeadLetteredAndGoodHandled(app2, second, stateDir, 1 + MAX_CRASHES);
    expect(runs(second.SEEN_FILE).get('p')).toBe(1 + MAX_CRASHES);
    expectCrashesNotFailedStarts(app2, MAX_CRASHES);
  });
});
