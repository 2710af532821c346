import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = join(ROOT, 'node_modules/.cache/routemq-pack');
/** Cached tarballs of other contents are removed once this old (each is ~0.5 MB): the cache holds the recent ones. */
const CACHE_MAX_AGE_MS = 60 * 60 * 1000;

/** What `npm pack` reads: the sources the build compiles and the files the package ships. */
const INPUTS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
  'bin',
  'src',
  'config/mosquitto.conf',
];

/** A packed `routemq` tarball. */
export interface PackedRouteMQ {
  /** Absolute path of `routemq-<version>.tgz`. */
  readonly tarball: string;
  /** The `version` of package.json. */
  readonly version: string;
  /** Paths inside the tarball, relative to `package/`, sorted. */
  readonly files: readonly string[];
}

let memo: Promise<PackedRouteMQ> | undefined;

/**
 * Pack the package as `npm pack` does for a user, `prepare` (the build) included, and return the tarball. The
 * build runs in a staging copy of the inputs (with the repository's node_modules linked in), so the checkout's own
 * `dist/` is never touched. The tarball is cached under node_modules/.cache by a hash of the inputs: once per
 * process (memoised) and once per content across test files and runs. Two files packing the same content at once
 * each build, and the first rename wins. Tarballs of other contents older than an hour are removed at each pack.
 */
export function packRouteMQ(): Promise<PackedRouteMQ> {
  memo ??= pack().catch((err: unknown) => {
    memo = undefined;
    throw err;
  });
  return memo;
}

async function pack(): Promise<PackedRouteMQ> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const done = join(CACHE, inputHash());
  const tarball = join(done, `routemq-${version}.tgz`);
  if (!existsSync(tarball)) {
    mkdirSync(CACHE, { recursive: true });
    const work = mkdtempSync(join(CACHE, 'work-'));
    try {
      const stage = join(work, 'routemq');
      for (const input of INPUTS) cpSync(join(ROOT, input), join(stage, input), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
      const out = join(work, 'out');
      mkdirSync(out);
      await exec('npm', ['pack', '--pack-destination', out, '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: stage,
        maxBuffer: 64 * 1024 * 1024,
      });
      try {
        renameSync(out, done);
      } catch (err) {
        if (!existsSync(tarball)) throw err; // another file packed the same content first: use its tarball
      }
      pruneCache(done);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return { tarball, version, files: await listTarball(tarball) };
}

/** Remove cached contents (and abandoned work dirs) other than `keep` that are older than CACHE_MAX_AGE_MS. */
function pruneCache(keep: string): void {
  const cutoff = Date.now() - CACHE_MAX_AGE_MS;
  for (const entry of readdirSync(CACHE)) {
    const path = join(CACHE, entry);
    if (path !== keep && statSync(path).mtimeMs < cutoff) rmSync(path, { recursive: true, force: true });
  }
}

async function listTarball(tarball: string): Promise<string[]> {
  const { stdout } = await exec('tar', ['-tzf', tarball], { maxBuffer: 16 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('package/') && !line.endsWith('/'))
    .map((line) => line.slice('package/'.length))
    .sort();
}

function inputHash(): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((input) => filesUnder(join(ROOT, input))).sort()) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  try {
    return readdirSync(path, { withFileTypes: true }).flatMap((entry) => filesUnder(join(path, entry.name)));
  } catch {
    return [path]; // a file
  }
}

/**
 * A package-lock.json for an app that depends on the packed tarball and on `extra` packages of the repository's
 * lock (e.g. typescript, @types/node), so `npm ci --offline` installs it from the npm cache that the repository's
 * own `npm ci` filled, without asking the registry. The versions are the repository's: its lock lists every
 * package that RouteMQ's dependencies need, hoisted as npm laid them out.
 */
export function appLockfile(
  appDir: string,
  app: { name: string; dependencies: Record<string, string>; devDependencies: Record<string, string> },
  packed: PackedRouteMQ,
): string {
  interface LockEntry {
    version?: string;
    dev?: boolean;
    devOptional?: boolean;
    optional?: boolean;
    peer?: boolean;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    [key: string]: unknown;
  }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const root = lock.packages[''] ?? {};
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const packages: Record<string, LockEntry> = {
    '': { name: app.name, dependencies: app.dependencies, devDependencies: app.devDependencies },
    'node_modules/routemq': {
      version: packed.version,
      resolved: `file:${relative(appDir, packed.tarball)}`,
      integrity: integrityOf(packed.tarball),
      license: manifest['license'],
      dependencies: root.dependencies,
      bin: manifest['bin'],
      engines: manifest['engines'],
    },
  };
  // Walk the dependency edges from the app's direct dependencies, the way Node resolves them: from a package's
  // own node_modules up to the top.
  const direct = [...Object.keys(app.dependencies), ...Object.keys(app.devDependencies)];
  const roots = [...Object.keys(root.dependencies ?? {}), ...direct.filter((name) => name !== 'routemq')];
  const queue = roots.map((name) => ({ from: '', name }));
  while (queue.length > 0) {
    const { from, name } = queue.pop() ?? { from: '', name: '' };
    const key = locate(lock.packages, from, name);
    if (key === undefined || key in packages) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[key] ?? {};
    packages[key] = entry;
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) {
      queue.push({ from: key, name: dep });
    }
  }
  return JSON.stringify({ name: app.name, lockfileVersion: 3, requires: true, packages }, null, 2);
}

function locate(packages: Record<string, unknown>, from: string, name: string): string | undefined {
  for (let dir = from; ;) {
    const key = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (key in packages) return key;
    if (dir === '') return undefined;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at === -1 ? '' : dir.slice(0, at);
  }
}

/** The integrity string npm records for a file: `sha512-<base64>`. */
export function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** Write `files` (relative path → text) under `dir`, creating folders. */
export function writeTree(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}
