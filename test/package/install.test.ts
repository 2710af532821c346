import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { collect, uniqueName } from '../helpers/mqtt.js';
import { appLockfile, packRouteMQ, writeTree } from '../helpers/pack.js';
import type { PackedRouteMQ } from '../helpers/pack.js';

// Installs RouteMQ as a user would: `npm pack` (its `prepare` builds dist/), a fresh app in a temp dir outside the
// repository that depends on the tarball, zod, typescript and @types/node, `npm ci --offline` (from the npm cache
// the repository's own `npm ci` filled; the app's lock takes the repository's versions), `tsc --noEmit` over a
// route file with typed params and a schema, then `routemq start` from node_modules/.bin handling a message.

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const f = useFixture({ broker: [] });

const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const ROUTE_FILE = `import { z } from 'zod';
import type { Router } from 'routemq';

const Reading = z.object({ celsius: z.number() });

export default (router: Router): void => {
  router.on(
    'sensors/{sensorId}/reading',
    async (ctx) => {
      const id: string = ctx.params.sensorId;
      const celsius: number = ctx.payload.celsius;
      await ctx.publish(\`replies/\${id}\`, { fahrenheit: celsius * 1.8 + 32 }, { qos: 1 });
    },
    { schema: Reading, qos: 1 },
  );
  // A shared route: served by a worker process, which runs the route file bundled by esbuild.
  router.on(
    'meters/{meterId}/kwh',
    async (ctx) => {
      await ctx.publish(\`replies/\${ctx.params.meterId}\`, { wh: ctx.payload.kwh * 1000, pid: process.pid }, { qos: 1 });
    },
    { schema: z.object({ kwh: z.number() }), shared: true, workerCount: 1 },
  );
};
`;

// Outside routers/ (so routemq start never loads it): tsc must reject it, which shows the types are not \`any\`.
const TYPO_FILE = `import { z } from 'zod';
import { Router } from 'routemq';

new Router().on('sensors/{sensorId}/reading', (ctx) => ctx.params.sensorld + ctx.payload.celsius.toFixed(1), {
  schema: z.object({ celsius: z.number() }),
});
`;

let packed: PackedRouteMQ;
let app: string;

beforeAll(async () => {
  packed = await packRouteMQ();
  app = f.mkdir('user-app');
  const tarball = `routemq-${packed.version}.tgz`;
  copyFileSync(packed.tarball, join(app, tarball));
  const manifest = {
    name: 'user-app',
    private: true,
    type: 'module',
    dependencies: { routemq: `file:${tarball}`, zod: repo.dependencies['zod'] ?? '*' },
    devDependencies: {
      typescript: repo.devDependencies['typescript'] ?? '*',
      '@types/node': repo.devDependencies['@types/node'] ?? '*',
    },
  };
  writeTree(app, {
    'package.json': JSON.stringify(manifest, null, 2),
    'package-lock.json': appLockfile(app, manifest, { ...packed, tarball: join(app, tarball) }),
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
      },
      include: ['routers', 'check'],
    }),
    'routers/readings.ts': ROUTE_FILE,
    'check/typo.ts': TYPO_FILE,
  });
  await exec('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    maxBuffer: 16 * 1024 * 1024,
  });
});

describe('routemq installed from its tarball into a fresh app', () => {
  it('ships dist with types, the bin, LICENSE, README and CHANGELOG, and source maps that carry their sources', () => {
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/internal.js', 'dist/internal.d.ts']) {
      expect(packed.files).toContain(file);
    }
    // docs/ too: the README links into it.
    for (const file of ['bin/routemq.js', 'LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'docs/errors.md']) {
      expect(packed.files).toContain(file);
    }
    expect(packed.files.filter((file) => file.startsWith('src/') || file.startsWith('test/'))).toEqual([]);
    const installed = join(app, 'node_modules/routemq');
    const maps = packed.files.filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const parsed = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(parsed.sourcesContent?.length, map).toBe(parsed.sources.length);
      expect(
        parsed.sourcesContent?.every((text) => typeof text === 'string' && text.length > 0),
        map,
      ).toBe(true);
    }
  });

  it('type-checks a route file with typed params and a zod schema, and rejects a misspelt param', async () => {
    const tsc = join(app, 'node_modules/typescript/bin/tsc');
    const output = await exec(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    const errors = output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^check\/typo\.ts\(4,\d+\): error TS(2339|2551): Property 'sensorld' does not exist/);
  });

  it('prints its version and the route table as typed JSON', async () => {
    const bin = join(app, 'node_modules/.bin/routemq');
    const version = await exec(bin, ['--version'], { cwd: app });
    expect(version.stdout.trim()).toBe(packed.version);
    const routes = await exec(bin, ['routes', '--json'], { cwd: app, env: { ...process.env, MQTT_GROUP_NAME: 'grp' } });
    expect(JSON.parse(routes.stdout)).toEqual([
      {
        pattern: 'sensors/{sensorId}/reading',
        subscription: 'sensors/+/reading',
        qos: 1,
        shared: false,
        group: null,
        workers: null,
        file: 'routers/readings.ts',
      },
      {
        pattern: 'meters/{meterId}/kwh',
        subscription: '$share/grp/meters/+/kwh',
        qos: 1,
        shared: true,
        group: 'grp',
        workers: 1,
        file: 'routers/readings.ts',
      },
    ]);
  });

  it('starts with routemq start and handles a message in the main process and in a worker', async () => {
    const sensor = uniqueName('s');
    const meter = uniqueName('m');
    const served = f.spawn(
      ['start'],
      f.env({ ROUTEMQ_ROUTERS_DIR: undefined }),
      app,
      join(app, 'node_modules/.bin/routemq'),
    );
    await served.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
    const client = await f.connect();
    const replies = await collect(client, `replies/${sensor}`);
    const meterReplies = await collect(client, `replies/${meter}`);
    await client.publishAsync(`sensors/${sensor}/reading`, JSON.stringify({ celsius: 100 }), { qos: 1 });
    await client.publishAsync(`meters/${meter}/kwh`, JSON.stringify({ kwh: 1.5 }), { qos: 1 });
    await replies.waitFor(1);
    await meterReplies.waitFor(1);
    expect(replies.messages.map((m) => JSON.parse(m.payload.toString()) as unknown)).toEqual([{ fahrenheit: 212 }]);
    const fromWorker = meterReplies.messages.map(
      (m) => JSON.parse(m.payload.toString()) as { wh: number; pid: number },
    );
    expect(fromWorker.map((r) => r.wh)).toEqual([1500]);
    expect(fromWorker[0]?.pid).not.toBe(served.child.pid); // handled in the worker process, not the main one
    expect((await served.stop()).code).toBe(0);
  });
});
