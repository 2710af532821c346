import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAMEWORK_CJS_PACKAGES, buildWorkerBundle } from '../../src/worker/worker-bundle.js';

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

  it('exports from @opentelemetry/api every name RouteMQ imports from it', () => {
    const src = fileURLToPath(new URL('../../src/', import.meta.url));
    const imported = new Set<string>();
    for (const file of filesUnder(src).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import \{([^}]*)\} from '@opentelemetry\/api';/gm)) {
        for (const name of (m[1] ?? '').split(',').map((n) => n.trim())) if (name) imported.add(name);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    expect(FRAMEWORK_CJS_PACKAGES['@opentelemetry/api']).toEqual(expect.arrayContaining([...imported]));
  });

  it('compiles the instrumentation module beside a hook that imports it, and refuses a missing or broken one', async () => {
    const routers = tempDir();
    writeFileSync(join(routers, 'app.ts'), 'export default () => undefined;\n');
    const app = tempDir();
    writeFileSync(join(app, 'helper.ts'), 'export const where = (): string => "helper-marker";\n');
    writeFileSync(
      join(app, 'tracing.ts'),
      "import { trace } from '@opentelemetry/api';\nimport { where } from './helper';\n(globalThis as Record<string, unknown>).t = [trace, where()];\n",
    );
    const bundle = await buildWorkerBundle(routers, tempDir(), join(app, 'tracing.ts'));
    const hook = readFileSync(fileURLToPath(bundle.instrumentation ?? ''), 'utf8');
    expect(hook).toContain("await import('./instrumentation.mjs')");
    const compiled = readFileSync(join(bundle.dir, 'instrumentation.mjs'), 'utf8');
    expect(compiled).toMatch(/from "@opentelemetry\/api"/); // packages stay external: the app's copy
    expect(compiled).toContain('helper-marker'); // its relative imports are bundled

    await expect(buildWorkerBundle(routers, tempDir(), join(app, 'missing.ts'))).rejects.toMatchObject({
      code: 'RMQ_ERR_INSTRUMENTATION_FAILED',
    });
    writeFileSync(join(app, 'broken.ts'), 'export const = ;\n');
    await expect(buildWorkerBundle(routers, tempDir(), join(app, 'broken.ts'))).rejects.toMatchObject({
      code: 'RMQ_ERR_INSTRUMENTATION_FAILED',
      message: expect.stringContaining('failed to compile'),
    });
  });
});
