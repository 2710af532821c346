import { resolve } from 'node:path';
import { describe, it, expect } from 'vitest';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { isRouteFileName, loadRouteFiles } from '../../src/router/discovery.js';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';

const fixture = (name: string): string => resolve(import.meta.dirname, '../fixtures', name);

async function loadError(dir: string): Promise<RouteMQError> {
  try {
    await loadRouteFiles(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteMQError);
    return err as RouteMQError;
  }
  throw new Error(`expected loading ${dir} to fail`);
}

describe('loadRouteFiles', () => {
  it('loads the route files of a directory in alphabetical order, recording each file', async () => {
    const dir = fixture('routers-ok');
    const router = await loadRouteFiles(dir);
    expect(router.declarations.map((d) => [d.pattern, d.source])).toEqual([
      ['alerts/#', resolve(dir, 'a-alerts.ts')],
      ['sensors/{id}/telemetry', resolve(dir, 'b-telemetry.ts')],
      ['status/+', resolve(dir, 'c-router-export.ts')],
      ['plain/{x}', resolve(dir, 'd-plain.js')],
    ]);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    expect(table.routes.map((r) => r.id)).toEqual([1, 2, 3, 4]);
  });

  it('awaits an async function export', async () => {
    const router = await loadRouteFiles(fixture('routers-ok'));
    expect(router.declarations.find((d) => d.pattern === 'sensors/{id}/telemetry')?.options).toEqual({
      shared: true,
      workerCount: 2,
    });
  });

  it('merges the declarations of a Router export, with the file as their source', async () => {
    const dir = fixture('routers-ok');
    const router = await loadRouteFiles(dir);
    const merged = router.declarations.find((d) => d.pattern === 'status/+');
    expect(merged?.source).toBe(resolve(dir, 'c-router-export.ts'));
  });

  it('declares into the router it is given, after its own routes, and clears the source afterwards', async () => {
    const router = new Router().on('own/route', () => undefined);
    const returned = await loadRouteFiles(fixture('routers-ok'), router);
    expect(returned).toBe(router);
    expect(router.declarations[0]?.pattern).toBe('own/route');
    expect(router.declarations).toHaveLength(5);
    expect(router.source).toBeUndefined();
  });

  it('accepts a relative directory', async () => {
    const relativeDir = resolve(import.meta.dirname, '../fixtures/routers-ok').slice(process.cwd().length + 1);
    const router = await loadRouteFiles(relativeDir);
    expect(router.declarations).toHaveLength(4);
  });

  it('fails with ROUTES_NOT_FOUND and the absolute path when the directory is missing', async () => {
    const err = await loadError('test/fixtures/no-such-dir');
    expect(err.code).toBe(ErrorCodes.ROUTES_NOT_FOUND);
    expect(err.message).toContain(fixture('no-such-dir'));
    expect(err.message).toContain('ROUTEMQ_ROUTERS_DIR');
    expect(err.message).toContain('--routers');
  });

  it('fails with ROUTES_NOT_FOUND when the path is a file', async () => {
    expect((await loadError(resolve(fixture('routers-ok'), 'a-alerts.ts'))).code).toBe(ErrorCodes.ROUTES_NOT_FOUND);
  });

  it('fails with ROUTES_NOT_FOUND when the directory holds no route file', async () => {
    const err = await loadError(fixture('routers-empty'));
    expect(err.code).toBe(ErrorCodes.ROUTES_NOT_FOUND);
    expect(err.message).toContain(fixture('routers-empty'));
  });

  const failing: [dir: string, file: string, code: ErrorCode, reason: string][] = [
    ['routers-throwing', 'b-throws.ts', ErrorCodes.ROUTE_FILE_INVALID, 'boom while declaring'],
    ['routers-import-error', 'broken.ts', ErrorCodes.ROUTE_FILE_INVALID, 'broken at import time'],
    ['routers-no-default', 'named-only.ts', ErrorCodes.ROUTE_FILE_INVALID, 'has no default export'],
    ['routers-bad-export', 'number.ts', ErrorCodes.ROUTE_FILE_INVALID, 'default export of type number'],
    ['routers-bad-pattern', 'bad.ts', ErrorCodes.PATTERN_INVALID, "'#' must be the last level"],
    ['routers-bad-pattern-router', 'bad-router.ts', ErrorCodes.PATTERN_SHARE_PREFIX, 'shared: true'],
  ];

  it.each(failing)('fails on %s/%s with %s, naming the file', async (dir, file, code, reason) => {
    const err = await loadError(fixture(dir));
    expect(err.code).toBe(code);
    expect(err.message).toContain(resolve(fixture(dir), file));
    expect(err.message).toContain(reason);
  });

  it('attaches the original error as the cause', async () => {
    const err = await loadError(fixture('routers-throwing'));
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toBe('boom while declaring');
  });

  it('leads to ROUTE_DUPLICATE naming both files when two files declare the same filter', async () => {
    const dir = fixture('routers-duplicate');
    const router = await loadRouteFiles(dir);
    expect(() => compileRoutes(router, { defaultGroup: 'g' })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.ROUTE_DUPLICATE,
        message: expect.stringMatching(/a-first\.ts.*b-second\.ts/),
      }),
    );
  });
});

describe('isRouteFileName', () => {
  it.each([
    ['routes.ts', true],
    ['routes.mts', true],
    ['routes.js', true],
    ['routes.mjs', true],
    ['routes.d.ts', false],
    ['routes.d.mts', false],
    ['routes.test.ts', false],
    ['routes.test.mjs', false],
    ['_draft.ts', false],
    ['.hidden.ts', false],
    ['routes.cjs', false],
    ['routes.json', false],
    ['README.md', false],
  ])('%s -> %s', (name, expected) => {
    expect(isRouteFileName(name)).toBe(expected);
  });
});
