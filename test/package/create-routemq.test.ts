import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/cli/new-app.js';
import { useFixture } from '../helpers/fixture.js';
import { packCreateRouteMQ, packRouteMQ, writeAppLockfile, writeTree } from '../helpers/pack.js';
import type { PackedPackage } from '../helpers/pack.js';

// `npm create routemq <dir>` as a user runs it: packages/create-routemq and routemq packed (routemq's tarball is the
// one install.test.ts and new-app.test.ts use: cached by content), create-routemq installed offline into a fresh
// directory outside the repository (from the npm cache the repository's `npm ci` filled), then `npm create routemq`
// there. It must write what `routemq new` writes (the app itself is installed and run by new-app.test.ts).

const run = promisify(execFile);
const f = useFixture();

/** Run a command; resolve with its exit code and output (never rejects, so a failure shows its output). */
async function sh(file: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stripVTControlCharacters(stdout + stderr) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: stripVTControlCharacters(`${e.stdout}${e.stderr}`) };
  }
}

/** Every file under `dir`, relative to it, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

let routemq: PackedPackage;
let create: PackedPackage;
let home: string;
let spec: string;

beforeAll(async () => {
  [routemq, create] = await Promise.all([packRouteMQ(), packCreateRouteMQ()]);
  const tmp = mkdtempSync(join(tmpdir(), 'routemq-create-'));
  f.defer(() => rmSync(tmp, { recursive: true, force: true }));
  home = join(tmp, 'projects');
  const tarballs = [routemq, create].map((packed) => {
    const tarball = join(home, basename(packed.tarball));
    return { ...packed, tarball };
  });
  // Only create-routemq is asked for, as `npm create` does; its routemq dependency is the packed one (not on the
  // registry yet), through the lock.
  writeTree(home, {
    'package.json': JSON.stringify({
      name: 'projects',
      private: true,
      dependencies: { 'create-routemq': `file:${basename(create.tarball)}` },
    }),
  });
  for (const [i, packed] of [routemq, create].entries()) copyFileSync(packed.tarball, tarballs[i]!.tarball);
  writeAppLockfile(home, tarballs);
  const install = await sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], home);
  expect(install.code, install.out).toBe(0);
  spec = `file:../${basename(routemq.tarball)}`;
});

describe('npm create routemq', () => {
  it('ships one bin that depends on the routemq of the same version', () => {
    expect(create.files).toEqual(['index.js', 'package.json']);
    expect(create.manifest).toMatchObject({
      name: 'create-routemq',
      version: routemq.version,
      bin: { 'create-routemq': 'index.js' },
      dependencies: { routemq: `^${routemq.version}` },
    });
  });

  it('writes the app routemq new writes, with the arguments given after --', async () => {
    const created = await sh('npm', ['create', '--offline', 'routemq', 'my-app', '--', '--routemq', spec], home);
    expect(created.code, created.out).toBe(0);
    expect(created.out).toContain('Created my-app:');
    const appDir = join(home, 'my-app');
    const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'my-app', dependencies: { routemq: spec } });
    expect(readFileSync(join(appDir, '.gitignore'), 'utf8')).toContain('.routemq/');

    // The same files, byte for byte, as this checkout's `routemq new` writes.
    const reference = join(f.mkdir('reference'), 'my-app');
    const written = await createApp({ dir: reference, routemqSpec: spec });
    expect(tree(appDir)).toEqual(written);
    for (const file of written) {
      expect(readFileSync(join(appDir, file), 'utf8'), file).toBe(readFileSync(join(reference, file), 'utf8'));
    }
  });

  it("refuses a directory that is not empty with routemq's error code and exit code, and writes nothing", async () => {
    const dir = join(home, 'taken');
    writeTree(dir, { 'notes.txt': 'mine' });
    const out = await sh(join(home, 'node_modules/.bin/create-routemq'), ['taken'], home);
    expect(out.code, out.out).toBe(1);
    expect(out.out).toMatch(/routemq: RMQ_ERR_NEW_DIR_NOT_EMPTY: .*taken is not empty/);
    expect(tree(dir)).toEqual(['notes.txt']);
  });
});
