import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isPortOpen } from '../../src/dev/mosquitto.js';
import { freePort } from '../helpers/broker.js';
import { steadyPublisher } from '../helpers/load.js';
import { useFixture } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import type { Seen } from '../helpers/seen.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

// A small app in a temp dir: a pool route (routers/pool.ts, shared, 1 worker) and a main-process route
// (routers/main.ts) that imports lib/version.ts. Each handler records `route, pid, id, dup, version` in SEEN_FILE,
// the version being the code that ran it.
function poolRoute(version: string, workerCount = 1): string {
  return `import { appendFileSync } from 'node:fs';
const VERSION = '${version}';
export default (router: any): void => {
  router.on('dv/pool/{id}', (ctx: any) => {
    appendFileSync(process.env['SEEN_FILE'] as string, \`pool\\t\${process.pid}\\t\${ctx.params.id}\\t0\\t\${VERSION}\\n\`);
  }, { shared: true, workerCount: ${workerCount} });
};
`;
}

// It also imports RouteMQ itself: after a reload that must still be the main process's own copy (`!copy` otherwise).
const FRAMEWORK = fileURLToPath(new URL('../../src/index.js', import.meta.url));
function mainRoute(suffix: string): string {
  return `import { appendFileSync } from 'node:fs';
import { Router } from '${FRAMEWORK}';
import { LIB_VERSION } from '../lib/version.js';
const SUFFIX = '${suffix}';
export default (router: any): void => {
  const copy = router instanceof Router ? '' : '!copy';
  router.on('dv/main/{id}', (ctx: any) => {
    appendFileSync(process.env['SEEN_FILE'] as string, \`main\\t\${process.pid}\\t\${ctx.params.id}\\t0\\t\${LIB_VERSION}\${SUFFIX}\${copy}\\n\`);
  });
};
`;
}

const lib = (version: string): string => `export const LIB_VERSION = '${version}';\n`;

describe('routemq dev', () => {
  const f = useFixture();

  it('reloads a pool route, a main-process route and a file it imports on save; a broken file keeps the old code; no id lost or handled twice', async () => {
    const root = f.mkdir('devapp');
    const routers = join(root, 'routers');
    mkdirSync(routers);
    mkdirSync(join(root, 'lib'));
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    // As an app with its dependencies installed: the workers' bundle resolves RouteMQ's packages from there.
    symlinkSync(fileURLToPath(new URL('../../node_modules', import.meta.url)), join(root, 'node_modules'), 'dir');
    const files = {
      pool: join(routers, 'pool.ts'),
      main: join(routers, 'main.ts'),
      lib: join(root, 'lib', 'version.ts'),
    };
    writeFileSync(files.pool, poolRoute('p1'));
    writeFileSync(files.main, mainRoute('-a'));
    writeFileSync(files.lib, lib('m1'));
    const env = f.env({ ROUTEMQ_ROUTERS_DIR: routers });
    const app = f.spawn(['dev'], env);
    await app.waitForLog((l) => l['msg'] === 'watching the route files for changes', 60_000);
    const watching = app.logs().find((l) => l['msg'] === 'watching the route files for changes');
    expect(watching?.['files']).toBe(1); // lib/version.ts; the route files are watched with their directory

    const publisher = await f.connect();
    let marker = 0;
    /** Publish one message to each route and resolve with the versions that handled them. */
    const probe = async (): Promise<{ pool: string; main: string }> => {
      const id = `probe-${++marker}`;
      await publisher.publishAsync(`dv/pool/${id}`, '{}', { qos: 1 });
      await publisher.publishAsync(`dv/main/${id}`, '{}', { qos: 1 });
      const find = (route: string): Seen | undefined =>
        readSeen(env.SEEN_FILE).find((s) => s.id === id && s.route === route);
      await waitUntil(() => find('pool') !== undefined && find('main') !== undefined, 20_000, `probe ${id} handled`);
      return { pool: find('pool')?.version ?? '', main: find('main')?.version ?? '' };
    };
    expect(await probe()).toEqual({ pool: 'p1', main: 'm1-a' });

    // Traffic on both routes across every reload below.
    const poolLoad = steadyPublisher(publisher, { topic: (id) => `dv/pool/${id}`, ratePerSec: 100, prefix: 'lp-' });
    const mainLoad = steadyPublisher(publisher, { topic: (id) => `dv/main/${id}`, ratePerSec: 100, prefix: 'lm-' });

    // 1. Edit both route files: the pool rolls, the main process swaps.
    const reloads = (): number => app.logs().filter((l) => l['msg'] === 'routes reloaded').length;
    let before = reloads();
    writeFileSync(files.pool, poolRoute('p2'));
    writeFileSync(files.main, mainRoute('-b'));
    await waitForReload(app, before);
    expect(await probe()).toEqual({ pool: 'p2', main: 'm1-b' });

    // 2. Edit only a file the main route imports.
    before = reloads();
    writeFileSync(files.lib, lib('m2'));
    await waitForReload(app, before);
    expect(await probe()).toEqual({ pool: 'p2', main: 'm2-b' });

    // 3. A syntax error: the error names the file and line, and the old code goes on.
    const failures = (): Record<string, unknown>[] =>
      app.logs().filter((l) => String(l['msg']).startsWith('reload failed'));
    writeFileSync(files.main, mainRoute('-c').replace('router.on(', 'router.on(;'));
    await waitUntil(() => failures().length >= 1, 60_000, 'the failed reload');
    expect(failures()[0]).toMatchObject({ code: 'RMQ_ERR_ROUTE_FILE_INVALID' });
    expect(String(failures()[0]?.['msg'])).toContain(`${files.main}:7:`);
    expect(await probe()).toEqual({ pool: 'p2', main: 'm2-b' });

    // 4. A new import that does not compile: reported; fixing that file alone (it is watched now) reloads.
    const extra = join(root, 'lib', 'extra.ts');
    writeFileSync(extra, 'export const EXTRA = ;\n');
    writeFileSync(
      files.main,
      mainRoute('-b').replace(
        "const SUFFIX = '-b';",
        "import { EXTRA } from '../lib/extra.js';\nconst SUFFIX = EXTRA;",
      ),
    );
    await waitUntil(() => failures().length >= 2, 60_000, 'the failed reload of the new import');
    expect(String(failures()[1]?.['msg'])).toContain(`${extra}:1:`);
    before = reloads();
    writeFileSync(extra, "export const EXTRA = '-e';\n");
    await waitForReload(app, before);
    expect(await probe()).toEqual({ pool: 'p2', main: 'm2-e' });

    // 5. A pool-layout change is refused, naming what needs a restart; the old code goes on.
    writeFileSync(files.main, mainRoute('-b'));
    writeFileSync(files.pool, poolRoute('p3', 2));
    await waitUntil(() => failures().length >= 3, 60_000, 'the refused reload');
    expect(failures()[2]).toMatchObject({ code: 'RMQ_ERR_RELOAD_NEEDS_RESTART' });
    expect(String(failures()[2]?.['msg'])).toMatch(
      /pool 'dv-pool-any' changes from .*workerCount 1.* to .*workerCount 2/,
    );
    expect(await probe()).toEqual({ pool: 'p2', main: 'm2-e' });

    // 6. Fixed again: reloads.
    before = reloads();
    writeFileSync(files.pool, poolRoute('p4'));
    await waitForReload(app, before);
    expect(await probe()).toEqual({ pool: 'p4', main: 'm2-b' });

    await Promise.all([poolLoad.stop(), mainLoad.stop()]);
    const seen = readSeen(env.SEEN_FILE);
    await waitUntil(
      () => {
        const all = readSeen(env.SEEN_FILE);
        return [...poolLoad.acked, ...mainLoad.acked].every((id) => all.some((s) => s.id === id));
      },
      30_000,
      'every published id handled',
    );
    const all = readSeen(env.SEEN_FILE);
    expect(seen.length).toBeGreaterThan(0);
    expect(
      check(
        poolLoad.acked,
        all.filter((s) => s.id.startsWith('lp-')),
      ),
    ).toEqual({
      lost: [],
      duplicated: [],
      unexpected: [],
    });
    expect(
      check(
        mainLoad.acked,
        all.filter((s) => s.id.startsWith('lm-')),
      ),
    ).toEqual({
      lost: [],
      duplicated: [],
      unexpected: [],
    });
    // Both versions handled load: the swaps happened under traffic.
    expect(new Set(all.filter((s) => s.id.startsWith('lm-')).map((s) => s.version)).size).toBeGreaterThan(1);
    expect((await app.stop()).code).toBe(0);
  }, 240_000);
});

describe('routemq dev without a broker', () => {
  const f = useFixture({ broker: false });

  it('starts a development broker when none answers, logs pretty lines, and stops both on SIGTERM', async () => {
    const root = f.mkdir('devbroker');
    const routers = join(root, 'routers');
    mkdirSync(routers);
    mkdirSync(join(root, 'lib'));
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(routers, 'main.ts'), mainRoute('-a'));
    writeFileSync(join(root, 'lib', 'version.ts'), lib('m1'));
    const port = await freePort();
    const app = f.spawn(
      ['dev', '--routers', routers],
      {
        MQTT_PORT: String(port),
        MQTT_BROKER: '',
        LOG_PRETTY: '',
        ROUTEMQ_STATE_DIR: join(root, '.routemq'),
        SEEN_FILE: join(root, 'seen'),
      },
      root,
    );
    await waitUntil(
      () => app.lines.some((l) => l.includes('watching the route files for changes')),
      60_000,
      'the watcher',
    );
    // Pretty (pino-pretty), not JSON: a level name and the message on one line.
    const serving = app.lines.find((l) => l.includes('RouteMQ is serving')) ?? '';
    expect(serving).toMatch(/INFO.*RouteMQ is serving/);
    expect(() => JSON.parse(serving) as unknown).toThrow();
    expect(app.lines.some((l) => l.includes('DEVELOPMENT BROKER'))).toBe(true);
    expect(await isPortOpen('127.0.0.1', port)).toBe(true);
    expect((await app.stop()).code).toBe(0);
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
  });
});

describe('routemq reload', () => {
  const f = useFixture();

  it('reloads main-process routes and says so (a new filter is subscribed); a broken file exits 1 with its file and line and keeps the old code', async () => {
    const root = f.mkdir('reloadapp');
    const routers = join(root, 'routers');
    mkdirSync(routers);
    mkdirSync(join(root, 'lib'));
    writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
    const main = join(routers, 'main.ts');
    writeFileSync(main, mainRoute('-a'));
    writeFileSync(join(root, 'lib', 'version.ts'), lib('m1'));
    const socket = join(root, 'control.sock');
    const env = f.env({ ROUTEMQ_ROUTERS_DIR: routers, ROUTEMQ_CONTROL_SOCKET: socket });
    await f.serve(env);
    const publisher = await f.connect();
    let marker = 0;
    const probe = async (topic: string): Promise<string> => {
      const id = `probe-${++marker}`;
      await publisher.publishAsync(`${topic}/${id}`, '{}', { qos: 1 });
      await waitUntil(() => readSeen(env.SEEN_FILE).some((s) => s.id === id), 20_000, `probe ${id} handled`);
      return readSeen(env.SEEN_FILE).find((s) => s.id === id)?.version ?? '';
    };
    const reload = async (): Promise<{ code: number | null; out: string }> => {
      const cli = f.spawn(['reload', '--socket', socket], env);
      const { code } = await cli.exited;
      return { code, out: cli.lines.join('\n') };
    };
    expect(await probe('dv/main')).toBe('m1-a');

    writeFileSync(main, mainRoute('-b'));
    writeFileSync(join(routers, 'extra.ts'), mainRoute('-x').replace("'dv/main/{id}'", "'dv/extra/{id}'"));
    expect(await reload()).toEqual({ code: 0, out: 'reloaded main process: 2 route(s) (+dv/extra/+)' });
    expect(await probe('dv/main')).toBe('m1-b');
    expect(await probe('dv/extra')).toBe('m1-x');

    writeFileSync(main, mainRoute('-c').replace('router.on(', 'router.on(;'));
    const failed = await reload();
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/^routemq: RMQ_ERR_ROUTE_FILE_INVALID: The route files failed to compile: /);
    expect(failed.out).toContain(`${main}:7:`);
    expect(await probe('dv/main')).toBe('m1-b');

    // A route file removed: its filter is unsubscribed.
    writeFileSync(main, mainRoute('-d'));
    rmSync(join(routers, 'extra.ts'));
    expect(await reload()).toEqual({ code: 0, out: 'reloaded main process: 1 route(s) (-dv/extra/+)' });
    expect(await probe('dv/main')).toBe('m1-d');

    // A changed filter under traffic (MQTT 5: copies carry subscription identifiers): the new filter is subscribed
    // before the old one is dropped, and no message is lost. A message published in the instant between the new
    // SUBACK and the switch back to strict identifiers may run twice (at least once): at most a couple.
    const load = steadyPublisher(publisher, { topic: (id) => `dv/main/${id}`, ratePerSec: 1000, prefix: 'lf-' });
    await waitUntil(() => load.acked.length >= 500, 20_000, '500 messages before the reload');
    writeFileSync(main, mainRoute('-f').replace("'dv/main/{id}'", "'dv/+/{id}'"));
    expect(await reload()).toEqual({
      code: 0,
      out: 'reloaded main process: 1 route(s) (+dv/+/+, -dv/main/+)',
    });
    await waitUntil(() => load.acked.length >= 1500, 20_000, '1000 messages after the reload');
    await load.stop();
    await waitUntil(
      () => {
        const seen = readSeen(env.SEEN_FILE);
        return load.acked.every((id) => seen.some((s) => s.id === id));
      },
      20_000,
      'every id handled',
    );
    const loaded = readSeen(env.SEEN_FILE).filter((s) => s.id.startsWith('lf-'));
    const result = check(load.acked, loaded);
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated.length).toBeLessThanOrEqual(2);
    expect(new Set(loaded.map((s) => s.version))).toEqual(new Set(['m1-d', 'm1-f']));
  }, 120_000);
});

async function waitForReload(app: SpawnedApp, before: number): Promise<void> {
  await waitUntil(
    () => app.logs().filter((l) => l['msg'] === 'routes reloaded').length > before,
    60_000,
    'the reload after the edit',
  );
}
