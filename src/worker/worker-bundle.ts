import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, stop as stopEsbuild } from 'esbuild';
import type { BuildOptions, BuildResult, Plugin, SameShape } from 'esbuild';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import { listRouteFiles } from '../router/discovery.js';

/** The worker's main module, as this copy of RouteMQ has it (TypeScript in a checkout, JavaScript in dist/). */
const WORKER_ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js', import.meta.url),
);

/** What {@link buildWorkerBundle} produced. */
export interface WorkerBundle {
  /** The JavaScript file a worker process runs with plain `node`. */
  readonly entry: string;
  /** The compiled route files, for the workers' `loadRouteFiles`. */
  readonly routersDir: string;
  /** The bundle's directory. */
  readonly dir: string;
  /**
   * The `file:` URL of the module a worker loads with `--import` before its own modules, when the app has an
   * instrumentation module (`ROUTEMQ_INSTRUMENTATION`): it imports the compiled module, and reports a failure to
   * the parent as `RMQ_ERR_INSTRUMENTATION_FAILED`.
   */
  readonly instrumentation?: string;
}

/** Bundles kept next to the newest (a reload in progress may still start workers from the previous one). */
const KEEP_BUNDLES = 2;

/** Builds running now, in this process (they share esbuild's one service process). */
let buildsInFlight = 0;

/**
 * Compile the worker entry, the framework and the route files (with everything they import from the app) into
 * plain JavaScript under `cacheDir`, once per start or reload. Workers then run it with plain `node`: no
 * TypeScript loader in every worker (tsx's loader thread and compiler cost ~25 MB and most of the start-up time
 * per process), and a reload picks up changed files because each build is new. Packages stay external (resolved
 * from node_modules at run time), except `routemq` itself, so route files and the worker share one framework copy.
 * The framework's own CommonJS dependencies are loaded with `require` (see {@link requireFrameworkPackages}).
 *
 * With `instrumentation` (the app's OpenTelemetry set-up), that module is compiled the same way (its relative
 * imports bundled, packages external) into `instrumentation.mjs`, beside a hook that workers `--import`.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` when a route file does not compile, or the routers codes;
 *   `RMQ_ERR_INSTRUMENTATION_FAILED` when the instrumentation module is missing or does not compile.
 */
export async function buildWorkerBundle(
  routersDir: string,
  cacheDir: string,
  instrumentation?: string,
): Promise<WorkerBundle> {
  const routeFiles = await listRouteFiles(routersDir);
  const outbase = commonAncestor([dirname(WORKER_ENTRY), resolve(routersDir)]);
  const dir = join(cacheDir, `bundle-${Date.now()}-${process.pid}`);
  mkdirSync(cacheDir, { recursive: true });
  try {
    await buildRoutes(routeFiles, dir, outbase);
    if (instrumentation !== undefined) await buildInstrumentation(instrumentation, dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  linkNodeModules(cacheDir, routersDir);
  pruneOldBundles(cacheDir, dir);
  const toOut = (file: string): string => join(dir, relative(outbase, file)).replace(/\.(c|m)?[jt]s$/, '.mjs');
  return {
    entry: toOut(WORKER_ENTRY),
    routersDir: join(dir, relative(outbase, resolve(routersDir))),
    dir,
    ...(instrumentation !== undefined ? { instrumentation: pathToFileURL(join(dir, INSTRUMENTATION_HOOK)).href } : {}),
  };
}

/** The worker entry and the route files, into `dir`. */
async function buildRoutes(routeFiles: readonly string[], dir: string, outbase: string): Promise<void> {
  try {
    await runEsbuild({
      ...ROUTE_BUNDLE_OPTIONS,
      entryPoints: [WORKER_ENTRY, ...routeFiles],
      outdir: dir,
      outbase,
      plugins: [requireFrameworkPackages, externalPackages],
    });
  } catch (err) {
    throw routeCompileError(err);
  }
}

/**
 * How route files are bundled, for the workers and for a reload of the main process: ESM for Node, one `.mjs` per
 * entry under its own directory, shared code split into `_chunks/`.
 */
export const ROUTE_BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  entryNames: '[dir]/[name]',
  chunkNames: '_chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  logLevel: 'silent',
} as const satisfies BuildOptions;

/**
 * Run one esbuild build. esbuild keeps a service child process between builds; builds are rare (start and
 * reload), so it is ended once none is in flight rather than left as a child that outlives the app. The next build
 * starts a new one.
 */
export async function runEsbuild<O extends BuildOptions>(options: SameShape<BuildOptions, O>): Promise<BuildResult<O>> {
  buildsInFlight++;
  try {
    return await build(options);
  } finally {
    if (--buildsInFlight === 0) await stopEsbuild();
  }
}

/** `RMQ_ERR_ROUTE_FILE_INVALID` for a failed build, naming the first errors with their file and line. */
export function routeCompileError(err: unknown): RouteMQError {
  return new RouteMQError(ErrorCodes.ROUTE_FILE_INVALID, `The route files failed to compile: ${compileMessage(err)}`, {
    cause: err,
  });
}

/** The compiled instrumentation module, and the hook workers `--import` (both in the bundle's directory). */
const INSTRUMENTATION_OUT = 'instrumentation.mjs';
const INSTRUMENTATION_HOOK = 'instrumentation-hook.mjs';

/**
 * Compile the app's instrumentation module into `dir`, and write the hook that imports it. The hook runs before the
 * worker's modules (`--import`); if the module throws, it tells the parent over IPC (a `failed` message with
 * `RMQ_ERR_INSTRUMENTATION_FAILED`, as a route file's error would be) and exits 1 before the worker starts.
 */
async function buildInstrumentation(file: string, dir: string): Promise<void> {
  const refused = (why: string, cause?: unknown): RouteMQError =>
    new RouteMQError(ErrorCodes.INSTRUMENTATION_FAILED, `The instrumentation module '${file}' ${why}`, { cause });
  if (!existsSync(file)) throw refused('does not exist (ROUTEMQ_INSTRUMENTATION is relative to the working directory)');
  try {
    await runEsbuild({
      entryPoints: [file],
      outfile: join(dir, INSTRUMENTATION_OUT),
      bundle: true,
      packages: 'external',
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
  } catch (err) {
    throw refused(`failed to compile: ${compileMessage(err)}`, err);
  }
  const failed = JSON.stringify(`The instrumentation module '${file}' failed to load: `);
  const hook = [
    '// Written by RouteMQ: the app instrumentation module, loaded before the worker (node --import).',
    'try {',
    `  await import('./${INSTRUMENTATION_OUT}');`,
    '} catch (err) {',
    `  const message = ${failed} + (err instanceof Error ? err.message : String(err));`,
    `  process.stderr.write('worker ' + process.pid + ': ${ErrorCodes.INSTRUMENTATION_FAILED}: ' + message + '\\n');`,
    '  const exit = () => process.exit(1);',
    `  if (process.send && process.connected) process.send({ type: 'failed', code: '${ErrorCodes.INSTRUMENTATION_FAILED}', message }, exit);`,
    '  else exit();',
    '  await new Promise(() => undefined); // the worker must not start',
    '}',
    '',
  ];
  writeFileSync(join(dir, INSTRUMENTATION_HOOK), hook.join('\n'));
}

/**
 * The CommonJS packages the worker itself imports, with the named exports RouteMQ's source takes from each. The
 * worker loads them with `require`, from the copy this RouteMQ resolves. An ESM `import` of a CommonJS package makes
 * Node run its export scanner (cjs-module-lexer) over the package and every module it re-exports: for MQTT.js that
 * is enough source for V8 to optimise the scanner itself, ~0.1–0.4 s of compiler time per worker on a background
 * thread, which four workers starting at once on two cores pay in their start-up and first second of traffic
 * (BENCHMARKS.md, finding 13).
 */
export const FRAMEWORK_CJS_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  mqtt: [],
  'secure-json-parse': [],
  pino: ['pino'],
  ioredis: ['Redis'],
  // Also the copy the app's instrumentation module gets (its ESM import of this CommonJS build is the same instance).
  '@opentelemetry/api': ['ROOT_CONTEXT', 'SpanKind', 'SpanStatusCode', 'context', 'propagation', 'trace'],
};

const requireFromHere = createRequire(import.meta.url);
/** RouteMQ's own source (src/ in a checkout, dist/ in a package): only its imports are rewritten, not the app's. */
const FRAMEWORK_ROOT = resolve(dirname(WORKER_ENTRY), '..') + sep;

/** Imports of {@link FRAMEWORK_CJS_PACKAGES} become `require` calls (default export = `module.exports`, as in Node). */
const requireFrameworkPackages: Plugin = {
  name: 'routemq-require-framework-packages',
  setup(b) {
    const namespace = 'routemq-require';
    const filter = new RegExp(`^(${Object.keys(FRAMEWORK_CJS_PACKAGES).join('|')})$`);
    b.onResolve({ filter }, (args) => {
      if (!args.importer.startsWith(FRAMEWORK_ROOT)) return undefined;
      let path: string;
      try {
        path = requireFromHere.resolve(args.path);
      } catch {
        return undefined; // not installed beside RouteMQ: leave it to the external rule
      }
      return { path, namespace, pluginData: args.path };
    });
    b.onLoad({ filter: /.*/, namespace }, (args) => {
      const names = FRAMEWORK_CJS_PACKAGES[args.pluginData as string] ?? [];
      const lines = [
        `import { createRequire } from 'node:module';`,
        `const m = createRequire(import.meta.url)(${JSON.stringify(args.path)});`,
        'export default m;',
        ...names.map((name) => `export const ${name} = m.${name};`),
      ];
      return { contents: lines.join('\n'), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** Every bare import (a package) stays external, except RouteMQ itself. Relative imports are bundled. */
const externalPackages: Plugin = {
  name: 'routemq-external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path === 'routemq' || args.path.startsWith('routemq/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** The nearest `node_modules` directory at or above `dir`, if any. */
function nearestNodeModules(dir: string): string | undefined {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const candidate = join(current, 'node_modules');
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

/**
 * Packages stay external, and Node resolves them from the bundle's own location by walking up to a
 * `node_modules`. A bundle built outside the app's tree (`ROUTEMQ_STATE_DIR=/tmp/…` on a read-only root filesystem)
 * would find none, so link the app's nearest `node_modules` into the build directory. Limit: packages hoisted into
 * a `node_modules` further up (some monorepos) are not found from there; keep the state directory inside the
 * project, or install them next to the routes.
 */
export function linkNodeModules(cacheDir: string, routersDir: string): void {
  const wanted = nearestNodeModules(routersDir);
  if (!wanted || nearestNodeModules(cacheDir) === wanted) return;
  const link = join(cacheDir, 'node_modules');
  if (existsSync(link)) return;
  symlinkSync(wanted, link, 'dir');
}

function commonAncestor(dirs: readonly string[]): string {
  const split = dirs.map((d) => resolve(d).split(sep));
  const first = split[0] ?? [];
  let i = 0;
  while (i < first.length && split.every((parts) => parts[i] === first[i])) i++;
  return first.slice(0, i).join(sep) || sep;
}

export function pruneOldBundles(cacheDir: string, current: string): void {
  const bundles = readdirSync(cacheDir)
    .filter((name) => name.startsWith('bundle-'))
    .map((name) => join(cacheDir, name))
    .filter((path) => path !== current)
    .sort();
  for (const old of bundles.slice(0, Math.max(0, bundles.length - (KEEP_BUNDLES - 1)))) {
    rmSync(old, { recursive: true, force: true });
  }
}

function compileMessage(err: unknown): string {
  const errors = (
    err as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }
  ).errors;
  if (!errors || errors.length === 0) return errorMessageOf(err);
  return errors
    .slice(0, 3)
    .map((e) =>
      e.location ? `${resolve(e.location.file)}:${e.location.line}:${e.location.column + 1}: ${e.text}` : e.text,
    )
    .join('; ');
}
