import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWorkerBundle } from '../../src/worker/worker-bundle.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-bundle-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('worker bundle', () => {
  it("loads the framework's CommonJS packages with require, and leaves the app's imports alone", async () => {
    const routers = tempDir();
    writeFileSync(
      join(routers, 'app.ts'),
      "import { Cluster } from 'ioredis';\nimport pino from 'pino';\nexport default () => { void Cluster; void pino; };\n",
    );
    const bundle = await buildWorkerBundle(routers, tempDir());
    const entry = readFileSync(bundle.entry, 'utf8');
    const all = filesUnder(bundle.dir).map((f) => readFileSync(f, 'utf8'));
    const req = createRequire(import.meta.url);
    // The worker's own imports: a require of the copy RouteMQ resolves, no ESM import (no export scan at start-up).
    for (const pkg of ['mqtt', 'pino', 'secure-json-parse']) {
      expect(entry).toContain(`(${JSON.stringify(req.resolve(pkg))})`);
      expect(entry).not.toMatch(new RegExp(`from "${pkg}"`));
    }
    expect(all.some((text) => text.includes(`(${JSON.stringify(req.resolve('ioredis'))})`))).toBe(true);
    // The app's imports of the same packages stay ordinary external imports, with whatever names it asks for.
    const route = readFileSync(join(bundle.routersDir, 'app.mjs'), 'utf8');
    expect(route).toMatch(/import \{ Cluster \} from "ioredis"/);
    expect(route).toMatch(/from "pino"/);
  });
});
