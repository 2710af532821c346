#!/usr/bin/env node
// Entry point. In a checkout the CLI runs from src/, through tsx; an installed package runs the compiled dist/ with
// plain node, and registers tsx only for the commands that load route files (routemq start, routes, doctor,
// sessions adopt), so `routemq --help` and the control commands start fast.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

// tsx caches compiled files in <tmpdir>/tsx-<uid> and crashes with a raw EACCES/EROFS when it cannot create that
// directory (a read-only root file system, where only ROUTEMQ_STATE_DIR is writable). Compile without the cache
// then. tsx reads the variable when its module loads, so this runs before anything imports tsx (here, or later in
// src/cli/ts-loader.ts); forked workers inherit it.
if (process.env.TSX_DISABLE_CACHE === undefined && !tsxCacheWritable()) process.env.TSX_DISABLE_CACHE = '1';

const source = new URL('../src/cli/bin.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // Read by src/cli/ts-loader.ts: tsx is registered already.
  globalThis[Symbol.for('routemq.tsx-registered')] = true;
  await import(source.href);
} else {
  await import(new URL('../dist/cli/bin.js', import.meta.url).href);
}

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
