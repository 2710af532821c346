#!/usr/bin/env node
// Entry point. tsx is registered first so route files (`routers/*.ts`) load without a build step. In a checkout
// the CLI runs from src/; an installed package runs the compiled dist/.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

// tsx caches compiled files in <tmpdir>/tsx-<uid> and crashes with a raw EACCES/EROFS when it cannot create that
// directory (a read-only root file system, where only ROUTEMQ_STATE_DIR is writable). Compile without the cache
// then. tsx reads the variable when its module loads, so it is imported only after this check.
if (process.env.TSX_DISABLE_CACHE === undefined && !tsxCacheWritable()) process.env.TSX_DISABLE_CACHE = '1';
const { register } = await import('tsx/esm/api');

register();
const source = new URL('../src/cli/bin.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/cli/bin.js', import.meta.url).href);

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
