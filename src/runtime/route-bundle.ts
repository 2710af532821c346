/**
 * @module
 * The main process's route code for a reload. Node cannot unload an ES module, and a second `import()` of a route
 * file returns the first copy (and the first copy of everything it imports). So each reload compiles the route
 * files and the app's own modules they import into a fresh bundle directory, and imports that: new files, new
 * module instances. RouteMQ itself and packages stay external: the bundle imports the very modules this process
 * already runs (same URLs), so `Router`, `RouteMQError` and the shared Redis are the main process's own.
 *
 * Limits: every reload leaves its module instances in memory (a few hundred kB per reload for a small app; a
 * development process reloading thousands of times should be restarted now and then). Module-level state of the
 * app (a cache in a controller) starts empty in each reload, as it would in a restart.
 */
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';
import { RouteMQError, isRouteMQError } from '../errors.js';
import { listRouteFiles, loadRouteFiles } from '../router/discovery.js';
import { ensureWritableDir } from '../util/state-dir.js';
import { Router } from '../router/router.js';
import type { RouteDeclarationSource } from '../router/router.js';
import {
  ROUTE_BUNDLE_OPTIONS,
  linkNodeModules,
  pruneOldBundles,
  routeCompileError,
  runEsbuild,
} from '../worker/worker-bundle.js';

/** RouteMQ's own source (src/ in a checkout, dist/ in a package): imports that resolve into it stay external. */
const FRAMEWORK_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..') + sep;

/** What {@link loadRouteBundle} loaded. */
export interface LoadedRoutes {
  /** The routes the files declared, each with its source route file. */
  readonly declarations: RouteDeclarationSource;
  /** Every source file the route files import (route files included; packages and RouteMQ excluded), absolute. */
  readonly inputs: readonly string[];
}

/** Marks the nested resolve of {@link frameworkExternal}, so it does not run itself again. */
const NESTED = Symbol('routemq-nested-resolve');

/**
 * Packages stay external (resolved from node_modules at run time). So does anything that resolves into RouteMQ's
 * own source, as a `file:` URL of the exact module this process loaded (`../src/index.js` in this repository's
 * examples, `routemq` in an app).
 */
const frameworkExternal: Plugin = {
  name: 'routemq-framework-external',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === NESTED || args.kind === 'entry-point') return undefined;
      const bare = /^[^./]/.test(args.path);
      if (bare && args.path !== 'routemq' && !args.path.startsWith('routemq/'))
        return { path: args.path, external: true };
      const found = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: NESTED,
      });
      if (found.errors.length > 0 || !found.path.startsWith(FRAMEWORK_ROOT)) return undefined;
      return { path: pathToFileURL(found.path).href, external: true };
    });
  },
};

/**
 * Compile the route files of `routersDir` (and the app modules they import) into a new bundle under `cacheDir`
 * and load it into a fresh {@link Router}.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` when a file does not compile (the message gives
 *   `file:line:column` of the first errors) or fails to load (the source file, and its line when source maps are
 *   on, as in `routemq dev`); `RMQ_ERR_ROUTES_NOT_FOUND`; the declaration codes of {@link loadRouteFiles};
 *   `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when `cacheDir` cannot be written.
 */
export async function loadRouteBundle(routersDir: string, cacheDir: string): Promise<LoadedRoutes> {
  const sources = await listRouteFiles(resolve(routersDir));
  const dir = join(cacheDir, `bundle-${Date.now()}-${process.pid}`);
  ensureWritableDir(cacheDir, "the main process's reload bundle");
  let metafile: Metafile;
  try {
    ({ metafile } = await runEsbuild({
      ...ROUTE_BUNDLE_OPTIONS,
      entryPoints: sources,
      outdir: dir,
      outbase: resolve(routersDir),
      sourcemap: 'inline',
      sourcesContent: false,
      metafile: true,
      plugins: [frameworkExternal],
    }));
  } catch (err) {
    throw remember(routeCompileError(err), filesOfBuildErrors(err));
  }
  linkNodeModules(cacheDir, routersDir);
  pruneOldBundles(cacheDir, dir);
  try {
    const router = await loadRouteFiles(dir, new Router());
    // Declarations record the bundle's file; people read the source's.
    const declarations = router.declarations.map((d) => {
      const source = d.source === undefined ? undefined : outputToSource(d.source, dir, sources);
      return source ? { ...d, source } : d;
    });
    return { declarations: { declarations }, inputs: inputsOf(metafile) };
  } catch (err) {
    throw remember(inSources(err, dir, sources), inputsOf(metafile));
  }
}

/**
 * The source files the route files of `routersDir` import (route files included; packages and RouteMQ excluded),
 * absolute: what `routemq dev` watches. Compiles without writing or loading anything.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` when a file does not compile; `RMQ_ERR_ROUTES_NOT_FOUND`.
 */
export async function listRouteInputs(routersDir: string): Promise<string[]> {
  const sources = await listRouteFiles(resolve(routersDir));
  try {
    const { metafile } = await runEsbuild({
      entryPoints: sources,
      outdir: resolve(routersDir),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      write: false,
      metafile: true,
      plugins: [frameworkExternal],
      logLevel: 'silent',
    });
    return inputsOf(metafile);
  } catch (err) {
    throw remember(routeCompileError(err), filesOfBuildErrors(err));
  }
}

/** The files to watch after a failed {@link loadRouteBundle}, by error. */
const failedInputs = new WeakMap<object, readonly string[]>();

function remember(err: unknown, files: readonly string[]): unknown {
  if (typeof err === 'object' && err !== null) failedInputs.set(err, files);
  return err;
}

/**
 * The source files a failed {@link loadRouteBundle} involved, so a watcher can follow them until the next success:
 * the files of the compile errors, or every file the bundle compiled when loading failed. Empty for other errors.
 */
export function inputsOfFailure(err: unknown): readonly string[] {
  return (typeof err === 'object' && err !== null && failedInputs.get(err)) || [];
}

/** The absolute files that an esbuild failure's errors point at. */
function filesOfBuildErrors(err: unknown): string[] {
  const errors = (err as { errors?: { location?: { file: string } | null }[] }).errors ?? [];
  return errors.flatMap((e) => (e.location ? [resolve(e.location.file)] : []));
}

/** The absolute source files of a build (esbuild lists them relative to the working directory). */
function inputsOf(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs)
    .filter((file) => !file.includes(':') && !file.split(/[\\/]/).includes('node_modules'))
    .map((file) => resolve(file));
}

/** The source route file of an output file of the bundle in `dir`, if it is one. */
function outputToSource(file: string, dir: string, sources: readonly string[]): string | undefined {
  if (!file.startsWith(dir + sep)) return undefined;
  const name = basename(relative(dir, file), '.mjs');
  return sources.find((source) => basename(source, extname(source)) === name);
}

/** A load error that names the bundle's files names the sources instead (message and declaration source). */
function inSources(err: unknown, dir: string, sources: readonly string[]): unknown {
  if (!isRouteMQError(err)) return err;
  let message = err.message;
  for (const source of sources) {
    const output = join(dir, `${basename(source, extname(source))}.mjs`);
    message = message.split(output).join(source);
  }
  const at = sourceLocation(err.cause, sources);
  if (at && !message.includes(at)) message += ` (at ${at})`;
  return new RouteMQError(err.code, message, { cause: err });
}

/** `file:line:column` of the first stack frame in an app source file (with source maps on), if any. */
function sourceLocation(cause: unknown, sources: readonly string[]): string | undefined {
  const stack = cause instanceof Error ? cause.stack : undefined;
  if (!stack) return undefined;
  const roots = new Set(sources.map((s) => dirname(dirname(s)) + sep));
  for (const match of stack.matchAll(/(?:file:\/\/)?(\/[^\s():]+):(\d+):(\d+)/g)) {
    const [, file = '', line, column] = match;
    if ([...roots].some((root) => file.startsWith(root)) && !file.includes(`${sep}node_modules${sep}`)) {
      if (!file.includes(`${sep}bundle-`)) return `${file}:${line}:${column}`;
    }
  }
  return undefined;
}
