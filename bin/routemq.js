#!/usr/bin/env node
// Entry point. In a checkout the CLI runs from src/, through tsx; an installed package runs the compiled dist/ with
// plain node, and registers tsx only for the commands that load route files (routemq start, dev, routes, doctor,
// sessions adopt), so `routemq --help` and the control commands start fast.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// tsx caches compiled files in <tmpdir>/tsx-<uid> and crashes with a raw EACCES/EROFS when it cannot create that
// directory (a read-only root file system, where only ROUTEMQ_STATE_DIR is writable). Compile without the cache
// then. tsx reads the variable when its module loads, so this runs before anything imports tsx (here, or later in
// src/cli/ts-loader.ts); forked workers inherit it.
if (process.env.TSX_DISABLE_CACHE === undefined && !tsxCacheWritable()) process.env.TSX_DISABLE_CACHE = '1';

const source = new URL('../src/cli/bin.ts', import.meta.url);
const fromSource = existsSync(source);
// The app's OpenTelemetry set-up (docs/tracing.md) loads before any other module of `routemq start` (and `dev`), so
// that its instrumentations see them load. `start` imports it again after reading .env: a no-op for the same file.
const instrumentation = process.env.ROUTEMQ_INSTRUMENTATION;
const serving = process.argv[2] === 'start' || process.argv[2] === 'dev';
if (fromSource || (instrumentation && serving)) {
  const { register } = await import('tsx/esm/api');
  register();
  // Read by src/cli/ts-loader.ts: tsx is registered already.
  globalThis[Symbol.for('routemq.tsx-registered')] = true;
}
if (instrumentation && serving) {
  const file = resolve(instrumentation);
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `routemq: RMQ_ERR_INSTRUMENTATION_FAILED: The instrumentation module '${file}' failed to load: ${why}\n`,
    );
    process.exit(1);
  }
}
await import(fromSource ? source.href : new URL('../dist/cli/bin.js', import.meta.url).href);

function tsxCacheWritable() {
  try {
    // The directory tsx uses (tsx's temporary-directory module): tsx-<effective uid>.
    const dir = join(tmpdir(), `tsx-${process.geteuid?.() ?? userInfo().username}`);
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
