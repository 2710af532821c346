import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { ErrorCodes, RouteMQError } from '../errors.js';
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
}

/** Bundles kept next to the newest (a reload in progress may still start workers from the previous one). */
const KEEP_BUNDLES = 2;

/**
 * Compile the worker entry, the framework and the route files (with everything they import from the app) into
 * plain JavaScript under `cacheDir`, once per start or reload. Workers then run it with plain `node`: no
 * TypeScript loader in every worker (tsx's loader thread and compiler cost ~25 MB and most of the start-up time
 * per process), and a reload picks up changed files because each build is new. Packages stay external (resolved
 * from node_modules at run time), except `routemq` itself, so route files and the worker share one framework copy.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` when a route file does not compile, or the routers codes.
 */
export async function buildWorkerBundle(routersDir: string, cacheDir: string): Promise<WorkerBundle> {
  const routeFiles = await listRouteFiles(routersDir);
  const outbase = commonAncestor([dirname(WORKER_ENTRY), resolve(routersDir)]);
  const dir = join(cacheDir, `bundle-${Date.now()}-${process.pid}`);
  mkdirSync(cacheDir, { recursive: true });
  try {
    await build({
      entryPoints: [WORKER_ENTRY, ...routeFiles],
      outdir: dir,
      outbase,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      entryNames: '[dir]/[name]',
      chunkNames: '_chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      plugins: [externalPackages],
      logLevel: 'silent',
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new RouteMQError(ErrorCodes.ROUTE_FILE_INVALID, `The route files failed to compile: ${compileMessage(err)}`, {
      cause: err,
    });
  }
  pruneOldBundles(cacheDir, dir);
  const toOut = (file: string): string => join(dir, relative(outbase, file)).replace(/\.(c|m)?[jt]s$/, '.mjs');
  return { entry: toOut(WORKER_ENTRY), routersDir: join(dir, relative(outbase, resolve(routersDir))), dir };
}

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

function commonAncestor(dirs: readonly string[]): string {
  const split = dirs.map((d) => resolve(d).split(sep));
  const first = split[0] ?? [];
  let i = 0;
  while (i < first.length && split.every((parts) => parts[i] === first[i])) i++;
  return first.slice(0, i).join(sep) || sep;
}

function pruneOldBundles(cacheDir: string, current: string): void {
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
  const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
  if (!errors || errors.length === 0) return err instanceof Error ? err.message : String(err);
  return errors
    .slice(0, 3)
    .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
    .join('; ');
}
