import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { typeScriptBlocks } from '../helpers/code-blocks.js';

// Every TypeScript block of README.md and docs/*.md compiles against the package's source: each block becomes a
// module in a temp directory where `routemq` maps to src/index.ts, and one tsc run checks them all under the
// project's strict settings. A block that is not meant to compile alone is fenced ```ts no-check (say why beside it).

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs.sort()];
}

// Inside the repository (node_modules/.cache), so `zod`, `valibot` and @types/node resolve from its node_modules.
const cache = join(ROOT, 'node_modules/.cache');
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'docs-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the TypeScript in README.md and docs/*.md', () => {
  const blocks = markdownFiles().flatMap((file) => typeScriptBlocks(file, readFileSync(join(ROOT, file), 'utf8')));

  it('finds the blocks, the README route example among them', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(blocks.some((b) => b.file === 'README.md' && b.code.includes("from 'routemq'"))).toBe(true);
  });

  it('type-checks every block (strict, with `routemq` mapped to the source)', async () => {
    const names = blocks.map((block, i) => {
      const name = `block-${String(i).padStart(2, '0')}.ts`;
      // `export {}` makes every block a module, so top-level await and same-named constants across blocks work.
      writeFileSync(join(dir, name), `${block.code}\nexport {};\n`);
      return name;
    });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: {
          noEmit: true,
          rootDir: ROOT,
          // `routemq/internal` (and any later subpath export named after its file in src/) too.
          paths: { routemq: [join(ROOT, 'src/index.ts')], 'routemq/*': [join(ROOT, 'src/*.ts')] },
        },
        include: ['*.ts'],
        exclude: [],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    // Killed before the test's own timeout (vitest.package.config.ts), so a slow run fails without leaving tsc behind.
    const run = exec(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, timeout: 270_000 });
    const result = await run.then(
      () => '',
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    // Name the Markdown file and line for each error, not the temp module.
    const located = result.replace(/block-(\d+)\.ts\((\d+),(\d+)\)/g, (_m, index: string, line: string) => {
      const block = blocks[Number(index)];
      return block ? `${block.file}:${block.line + Number(line)}` : _m;
    });
    expect(names.length).toBe(blocks.length);
    expect(located).toBe('');
  });
});
