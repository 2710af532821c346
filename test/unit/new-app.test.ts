import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, packageNameFor } from '../../src/cli/new-app.js';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';
import { ErrorCodes } from '../../src/errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-new-unit-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('routemq new (createApp)', () => {
  it('writes every part of the app, dot files renamed and every placeholder filled', async () => {
    const dir = join(tempDir(), 'My Sensors');
    const files = await createApp({ dir });
    expect(files).toEqual(
      expect.arrayContaining([
        '.dockerignore',
        '.env.example',
        '.gitignore',
        'Dockerfile',
        'compose.yaml',
        'package.json',
        'tsconfig.json',
        join('routers', 'telemetry.ts'),
        join('app', 'telemetry.ts'),
        join('test', 'routes.test.ts'),
      ]),
    );
    for (const file of files) expect(readFileSync(join(dir, file), 'utf8'), file).not.toMatch(/\{\{\w+\}\}/);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: 'my-sensors',
      dependencies: { routemq: `^${pkg.version}`, zod: pkg.dependencies['zod'] },
      devDependencies: { vitest: pkg.devDependencies['vitest'], typescript: pkg.devDependencies['typescript'] },
      scripts: { start: 'routemq start', test: 'vitest run' },
    });
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^\.routemq\/$/m);
  });

  it('names only variables RouteMQ reads in .env.example', async () => {
    const dir = join(tempDir(), 'app');
    await createApp({ dir });
    const names = [...readFileSync(join(dir, '.env.example'), 'utf8').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map(
      (m) => m[1],
    );
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !CONFIG_VARIABLES.includes(n as (typeof CONFIG_VARIABLES)[number]))).toEqual([]);
  });

  it('takes --name and --routemq', async () => {
    const dir = join(tempDir(), 'x');
    await createApp({ dir, name: 'custom', routemqSpec: 'file:../routemq.tgz' });
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({
      name: 'custom',
      dependencies: { routemq: 'file:../routemq.tgz' },
    });
  });

  it('refuses a directory that is not empty and writes nothing; accepts an empty one', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keep.txt'), 'x');
    await expect(createApp({ dir })).rejects.toMatchObject({ code: ErrorCodes.NEW_DIR_NOT_EMPTY });
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    await expect(createApp({ dir: tempDir() })).resolves.toContain('package.json');
  });

  it('fails with RMQ_ERR_FILE_WRITE_FAILED when the directory cannot be made', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    await expect(createApp({ dir: join(file, 'app') })).rejects.toMatchObject({ code: ErrorCodes.FILE_WRITE_FAILED });
  });

  it('makes an npm package name of a directory name', () => {
    expect(packageNameFor('/tmp/My App!')).toBe('my-app');
    expect(packageNameFor('/tmp/_.x')).toBe('x');
    expect(packageNameFor('/tmp/!!!')).toBe('routemq-app');
  });
});
