import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { inputsOfFailure, listRouteInputs, loadRouteBundle } from '../../src/runtime/route-bundle.js';

// The main process's reload bundle: fresh app code each time, RouteMQ itself shared with the running process,
// errors that name the source file and line, and what `routemq dev` watches.

const FRAMEWORK = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-route-bundle-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An app: routers/a.ts imports lib/name.ts (which says `name`) and RouteMQ's Router. */
function app(name: string): { root: string; routers: string; route: string; lib: string } {
  const root = tempDir();
  const routers = join(root, 'routers');
  mkdirSync(routers);
  mkdirSync(join(root, 'lib'));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
  const lib = join(root, 'lib', 'name.ts');
  writeFileSync(lib, `export const NAME = '${name}';\n`);
  const route = join(routers, 'a.ts');
  writeFileSync(
    route,
    `import { Router } from '${FRAMEWORK}';\nimport { NAME } from '../lib/name.js';\n` +
      `export default (router: Router): void => {\n` +
      `  router.on(router instanceof Router ? NAME : 'copy', () => undefined);\n};\n`,
  );
  return { root, routers, route, lib };
}

describe('loadRouteBundle', () => {
  it('loads the current code of the route files and what they import, with RouteMQ shared with this process', async () => {
    const a = app('first');
    const cache = tempDir();
    const loaded = await loadRouteBundle(a.routers, cache);
    // The pattern is 'copy' if the route file got a bundled copy of RouteMQ instead of this process's Router class.
    expect(loaded.declarations.declarations.map((d) => [d.pattern, d.source])).toEqual([['first', a.route]]);
    expect([...loaded.inputs].sort()).toEqual([a.lib, a.route].sort());
    writeFileSync(a.lib, "export const NAME = 'second';\n");
    const again = await loadRouteBundle(a.routers, cache);
    expect(again.declarations.declarations.map((d) => d.pattern)).toEqual(['second']);
  });

  it('names the file, line and column of a syntax error (RMQ_ERR_ROUTE_FILE_INVALID)', async () => {
    const a = app('x');
    writeFileSync(a.route, 'export default (router) => {\n  router.on(;\n};\n');
    await expect(loadRouteBundle(a.routers, tempDir())).rejects.toMatchObject({
      code: 'RMQ_ERR_ROUTE_FILE_INVALID',
      message: expect.stringContaining(`${a.route}:2:13:`),
    });
  });

  it('tells a watcher which files a failure involved: a new import that does not compile, or every compiled file', async () => {
    const a = app('x');
    const broken = join(a.root, 'lib', 'new.ts');
    writeFileSync(broken, 'export const X = ;\n');
    writeFileSync(a.lib, "export { X as NAME } from './new.js';\n");
    const compile = await loadRouteBundle(a.routers, tempDir()).catch((e: unknown) => e);
    expect(inputsOfFailure(compile)).toEqual([broken]);
    writeFileSync(broken, "throw new Error('at load');\n");
    const load = await loadRouteBundle(a.routers, tempDir()).catch((e: unknown) => e);
    expect([...inputsOfFailure(load)].sort()).toEqual([a.lib, broken, a.route].sort());
    expect(inputsOfFailure(new Error('other'))).toEqual([]);
  });

  it('names the source route file when a file throws while loading', async () => {
    const a = app('x');
    writeFileSync(a.route, "throw new Error('broken on purpose');\nexport default () => undefined;\n");
    const err = await loadRouteBundle(a.routers, tempDir()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RMQ_ERR_ROUTE_FILE_INVALID' });
    expect((err as Error).message).toContain(`Route file ${a.route} failed to load: broken on purpose`);
  });

  it('fails with RMQ_ERR_STATE_DIR_NOT_WRITABLE when the bundle directory cannot be created', async () => {
    const a = app('x');
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    await expect(loadRouteBundle(a.routers, join(file, 'main'))).rejects.toMatchObject({
      code: 'RMQ_ERR_STATE_DIR_NOT_WRITABLE',
    });
  });
});

describe('listRouteInputs', () => {
  it('lists the route files and the app files they import, not RouteMQ or packages', async () => {
    const a = app('x');
    writeFileSync(join(a.routers, 'b.ts'), "import { z } from 'zod';\nexport default () => void z;\n");
    expect((await listRouteInputs(a.routers)).sort()).toEqual([a.lib, a.route, join(a.routers, 'b.ts')].sort());
  });
});
