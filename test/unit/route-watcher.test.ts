import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FSWatcher } from 'chokidar';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RouteWatcher } from '../../src/dev/route-watcher.js';
import { silentLogger } from '../../src/logger.js';

// `routemq dev`'s watcher on a real directory: a file first imported by a reload is watched only some time after
// that reload returns (chokidar sets the watch up asynchronously), so a save in between has no event of its own.

const dirs: string[] = [];
const watchers: RouteWatcher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(watchers.splice(0).map((w) => w.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An app directory: routers/a.ts, and lib/x.ts that no route file imports yet. */
function app(): { routers: string; route: string; lib: string } {
  const root = mkdtempSync(join(tmpdir(), 'routemq-route-watcher-test-'));
  dirs.push(root);
  const routers = join(root, 'routers');
  mkdirSync(routers);
  mkdirSync(join(root, 'lib'));
  const route = join(routers, 'a.ts');
  writeFileSync(route, 'export default (): void => undefined;\n');
  const lib = join(root, 'lib', 'x.ts');
  writeFileSync(lib, 'export const X = ;\n');
  return { routers, route, lib };
}

type Reload = (changed: readonly string[], call: number) => readonly string[] | undefined;

/** A started watcher whose reload runs `reload`; `calls` lists each reload's `changed`. */
async function watcher(
  routers: string,
  reload: Reload,
  files: readonly string[] = [],
): Promise<{ w: RouteWatcher; calls: string[][] }> {
  const calls: string[][] = [];
  const w = new RouteWatcher({
    routersDir: routers,
    files,
    logger: silentLogger(),
    reload: (changed) => {
      calls.push([...changed]);
      return Promise.resolve(reload(changed, calls.length));
    },
  });
  watchers.push(w);
  await w.start();
  return { w, calls };
}

/** Waits (10 s at most) until a reload has run for `file`. */
async function reloadedFor(calls: readonly string[][], file: string): Promise<void> {
  await vi.waitFor(() => expect(calls.some((c) => c.includes(file))).toBe(true), { timeout: 10_000, interval: 10 });
}

const IMPORTING = "import { X } from '../lib/x.js';\nexport default (): void => void X;\n";

describe('RouteWatcher', () => {
  it('watches the files it starts with once start() resolves', async () => {
    const { routers, lib } = app();
    const { calls } = await watcher(routers, () => undefined, [lib]);
    writeFileSync(lib, "export const X = 'x';\n");
    await reloadedFor(calls, lib);
  }, 20_000);

  it('reloads again when a file the reload first imports was saved before chokidar watched it', async () => {
    const { routers, route, lib } = app();
    const { w, calls } = await watcher(routers, (_changed, call) => {
      // The fix lands after the reload read the file and before the watcher adds it: every time, with no event.
      if (call === 1) writeFileSync(lib, "export const X = 'x';\n");
      return [lib];
    });
    writeFileSync(route, IMPORTING);
    await reloadedFor(calls, lib);
    expect(calls[0]).toEqual([route]);
    expect(w.files).toEqual([lib]);
  }, 20_000);

  it('does not reload again for a new file saved before the reload started', async () => {
    const { routers, route, lib } = app();
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lib, hourAgo, hourAgo);
    const { calls } = await watcher(routers, () => [lib]);
    writeFileSync(route, IMPORTING);
    await reloadedFor(calls, route);
    // Had the first reload found lib/x.ts saved, lib/x.ts would be pending when it ended: in the next reload.
    writeFileSync(route, 'export default (): void => undefined;\n');
    await vi.waitFor(() => expect(calls.length).toBeGreaterThan(1), { timeout: 10_000, interval: 10 });
    expect(calls.flat()).not.toContain(lib);
  }, 20_000);

  it('reloads again when a file the reload names is gone', async () => {
    const { routers, route, lib } = app();
    const { calls } = await watcher(routers, (_changed, call) => {
      if (call === 1) rmSync(lib);
      return [lib];
    });
    writeFileSync(route, IMPORTING);
    await reloadedFor(calls, lib);
    expect(calls[0]).toEqual([route]);
  }, 20_000);

  it('stop() does not wait for a watch chokidar has not set up', async () => {
    const { routers, route, lib } = app();
    // chokidar never reports the new file watched: the watcher would wait 10 s for it.
    const getWatched = vi.spyOn(FSWatcher.prototype, 'getWatched').mockReturnValue({});
    const { w, calls } = await watcher(routers, () => [lib]);
    writeFileSync(route, IMPORTING);
    await reloadedFor(calls, route);
    await vi.waitFor(() => expect(getWatched).toHaveBeenCalled(), { timeout: 10_000, interval: 10 });
    const looksBefore = getWatched.mock.calls.length;
    await w.stop();
    // Counted, not timed: a stop() that waited for the wait's end would have seen it look again every 10 ms until
    // then. It may finish the one look in progress.
    expect(getWatched.mock.calls.length - looksBefore).toBeLessThanOrEqual(1);
    expect(calls).toHaveLength(1);
  }, 20_000);
});
