import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { publishMany, waitUntil } from '../helpers/mqtt.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/crash/routers', import.meta.url));
const TOTAL = 1000;

describe('at-least-once across a process crash', () => {
  const f = useFixture({ routers: ROUTERS });

  it('redelivers the message a handler crashed on to the restarted process, and loses none of 1,000', async () => {
    const crashMarker = f.path('crashed');
    const env = f.env({
      CRASH_MARKER: crashMarker,
      CRASH_ON_ID: '500',
      // A control socket of its own: the restart below must clear the one the killed process left behind.
      ROUTEMQ_CONTROL_SOCKET: f.path('control', '.sock'),
    });
    const seenFile = env.SEEN_FILE;
    const first = await f.serve(env);

    const publisher = await f.connect();
    await publishMany(publisher, TOTAL, (i) => ({ topic: `crash/${i}`, payload: JSON.stringify({ i }) }));

    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(existsSync(crashMarker)).toBe(true);
    const seenBeforeRestart = new Set(readSeen(seenFile));
    expect(seenBeforeRestart.has('500')).toBe(false);

    const second = f.spawn(['start'], env);
    const ready = await second.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect(ready['sessionPresent']).toBe(true);

    await waitUntil(() => new Set(readSeen(seenFile)).size >= TOTAL, 30_000, 'every id to be handled');
    const seen = new Set(readSeen(seenFile));
    const missing = Array.from({ length: TOTAL }, (_, i) => String(i)).filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
    expect(seen.has('500')).toBe(true);

    const stopped = await second.stop();
    expect(stopped.code).toBe(0);
  });
});

function readSeen(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}
