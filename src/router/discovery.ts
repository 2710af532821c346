import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, RouteMQError, errorMessageOf, isRouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { Router } from './router.js';
import type { RouteDeclaration } from './router.js';

/** What a route file's default export may be: a function that declares routes, or a Router. */
export type RouteFileExport = ((router: Router) => void | Promise<void>) | Router;

const ROUTE_FILE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/** Errors that say what is wrong with a declaration; they keep their code when a route file raises them. */
const DECLARATION_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.PATTERN_INVALID,
  ErrorCodes.PATTERN_SHARE_PREFIX,
  ErrorCodes.ROUTE_OPTION_INVALID,
  ErrorCodes.GROUP_INVALID,
]);

/**
 * True when `name` is a route file: `*.ts`, `*.mts`, `*.js` or `*.mjs`, but not `*.d.ts` / `*.d.mts`, not
 * `*.test.*`, and not starting with `.` or `_`.
 */
export function isRouteFileName(name: string): boolean {
  if (name.startsWith('.') || name.startsWith('_')) return false;
  if (!ROUTE_FILE_EXTENSIONS.some((ext) => name.endsWith(ext))) return false;
  if (name.endsWith('.d.ts') || name.endsWith('.d.mts')) return false;
  return !name.includes('.test.');
}

/** Options of {@link loadRouteFiles}. */
export interface LoadRouteFilesOptions {
  /**
   * Imports one route file by its `file:` URL. @defaultValue `import(url)` (TypeScript then needs a loader the
   * process has: tsx via the CLI, vite under vitest)
   */
  readonly importModule?: (url: string) => Promise<unknown>;
}

/**
 * Load every route file of a directory (not recursive), in alphabetical order, into a router. Each file's default
 * export is either a function `(router) => void | Promise<void>` (called, and awaited) or a {@link Router} whose
 * declarations are merged in. Declarations record their file. TypeScript files need a loader (tsx via the CLI,
 * vite under vitest).
 *
 * @param dir - the routers directory, absolute or relative to the working directory.
 * @param router - the router to declare into. @defaultValue a new Router
 * @throws RouteMQError `RMQ_ERR_ROUTES_NOT_FOUND` when `dir` does not exist, is not a directory, or holds no route
 *   file.
 * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` when a file fails to import, has no usable default export, or
 *   its function throws (the cause is attached).
 * @throws RouteMQError `RMQ_ERR_PATTERN_INVALID`, `RMQ_ERR_PATTERN_SHARE_PREFIX`, `RMQ_ERR_ROUTE_OPTION_INVALID` or
 *   `RMQ_ERR_GROUP_INVALID` when a file declares a bad route; the message names the file.
 */
export async function loadRouteFiles(
  dir: string,
  router: Router = new Router(),
  options: LoadRouteFilesOptions = {},
): Promise<Router> {
  const files = await listRouteFiles(resolve(dir));
  const previousSource = router.source;
  const importModule = options.importModule ?? ((url: string) => import(url) as Promise<unknown>);
  try {
    for (const file of files) await loadRouteFile(file, router, importModule);
  } finally {
    router.setSource(previousSource);
  }
  return router;
}

/** The route files of `dir`, sorted; throws `RMQ_ERR_ROUTES_NOT_FOUND` like {@link loadRouteFiles}. */
export async function listRouteFiles(dir: string): Promise<string[]> {
  const hint = 'Set ROUTEMQ_ROUTERS_DIR or pass --routers <dir>.';
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new RouteMQError(ErrorCodes.ROUTES_NOT_FOUND, `Routers directory not found: ${dir}. ${hint}`, {
      cause: err,
    });
  }
  if (!isDirectory) {
    throw new RouteMQError(ErrorCodes.ROUTES_NOT_FOUND, `Routers path is not a directory: ${dir}. ${hint}`);
  }
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    if (!isRouteFileName(entry.name)) continue;
    const file = join(dir, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(file)))) files.push(file);
  }
  if (files.length === 0) {
    throw new RouteMQError(ErrorCodes.ROUTES_NOT_FOUND, `No route files (*.ts, *.mts, *.js, *.mjs) in ${dir}. ${hint}`);
  }
  // Code-unit order, not locale order: the same on every machine.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function loadRouteFile(
  file: string,
  router: Router,
  importModule: (url: string) => Promise<unknown>,
): Promise<void> {
  router.setSource(file);
  let module: { default?: unknown };
  try {
    module = (await importModule(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw fileError(file, 'failed to load', err);
  }
  const exported = module.default;
  if (typeof exported === 'function') {
    try {
      await (exported as (router: Router) => unknown)(router);
    } catch (err) {
      throw fileError(file, 'threw while declaring routes', err);
    }
  } else if (isRouterLike(exported)) {
    router.merge(exported, file);
  } else {
    const problem =
      exported === undefined ? 'has no default export' : `has a default export of type ${describeType(exported)}`;
    throw new RouteMQError(
      ErrorCodes.ROUTE_FILE_INVALID,
      `Route file ${file} ${problem}; expected \`export default (router: Router) => { ... }\` or a Router`,
    );
  }
}

function isRouterLike(value: unknown): value is { readonly declarations: readonly RouteDeclaration[] } {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { declarations?: unknown }).declarations) &&
    typeof (value as { on?: unknown }).on === 'function'
  );
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A declaration error keeps its code (with the file added to its message); anything else is ROUTE_FILE_INVALID. */
function fileError(file: string, what: string, err: unknown): RouteMQError {
  if (isRouteMQError(err) && DECLARATION_CODES.has(err.code)) {
    if (err.message.includes(file)) return err;
    return new RouteMQError(err.code, `${err.message} (in route file ${file})`, { cause: err });
  }
  return new RouteMQError(
    ErrorCodes.ROUTE_FILE_INVALID,
    `Route file ${file} ${what}: ${errorMessageOf(err)}${moduleTypeHint(file, err)}`,
    { cause: err },
  );
}

/**
 * Route files are ES modules. A `.ts` file outside a package whose package.json says `"type": "module"` is taken for
 * CommonJS, and Node then fails with a message about `require()` of an ES module (ERR_REQUIRE_ESM, a require cycle)
 * that names neither cause nor fix.
 */
function moduleTypeHint(file: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessageOf(err);
  const looksCommonJs =
    code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_CYCLE_MODULE' || /require\(\)? (of )?ES Module/i.test(message);
  if (!looksCommonJs || /\.m[jt]s$/.test(file)) return '';
  return (
    ' (route files are ES modules: put them under a package.json with "type": "module", as `routemq new` ' +
    'writes it, or name them .mts)'
  );
}
