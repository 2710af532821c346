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
  utimesSync,
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
  'templates',
  'docs',
  'config/mosquitto.conf',
];

/** The package `npm create routemq` runs: a folder of plain files, packed as is (no build). */
const CREATE_DIR = join(ROOT, 'packages/create-routemq');

/** The fields of a package.json that a lockfile entry of the package copies. */
interface Manifest {
  name: string;
  version: string;
  license?: string;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** A packed tarball of a package of this repository. */
export interface PackedPackage {
  /** Absolute path of `<name>-<version>.tgz`. */
  readonly tarball: string;
  /** The `version` of package.json. */
  readonly version: string;
  /** Paths inside the tarball, relative to `package/`, sorted. */
  readonly files: readonly string[];
  /** The package.json it was packed from. */
  readonly manifest: Manifest;
}

/** A packed `routemq` tarball. */
export type PackedRouteMQ = PackedPackage;

let memo: Promise<PackedRouteMQ> | undefined;
let createMemo: Promise<PackedPackage> | undefined;

/**
 * Pack the package as `npm pack` does for a user, `prepare` (the build) included, and return the tarball. The
 * build runs in a staging copy of the inputs (with the repository's node_modules linked in), so the checkout's own
 * `dist/` is never touched. The tarball is cached under node_modules/.cache by a hash of the inputs: once per
 * process (memoised) and once per content across test files and runs: a file that finds another packing the same
 * content waits for its tarball. Tarballs of other contents unused for an hour are removed at each pack.
 */
export function packRouteMQ(): Promise<PackedRouteMQ> {
  memo ??= pack().catch((err: unknown) => {
    memo = undefined;
    throw err;
  });
  return memo;
}

/**
 * Pack `packages/create-routemq` (the bin of `npm create routemq`), cached like {@link packRouteMQ} by a hash of its
 * files. It has no build: `npm pack` runs in its folder, scripts off.
 */
export function packCreateRouteMQ(): Promise<PackedPackage> {
  createMemo ??= packCreate().catch((err: unknown) => {
    createMemo = undefined;
    throw err;
  });
  return createMemo;
}

async function packCreate(): Promise<PackedPackage> {
  const manifest = readManifest(CREATE_DIR);
  const key = `create-${hashOf(CREATE_DIR, filesUnder(CREATE_DIR))}`;
  const tarball = await cached(key, `${manifest.name}-${manifest.version}.tgz`, async (_work, out) => {
    await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', out, '--loglevel=error'], { cwd: CREATE_DIR });
  });
  return { tarball, version: manifest.version, files: await listTarball(tarball), manifest };
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

async function pack(): Promise<PackedRouteMQ> {
  const manifest = readManifest(ROOT);
  const inputs = INPUTS.flatMap((input) => filesUnder(join(ROOT, input)));
  const tarball = await cached(hashOf(ROOT, inputs), `routemq-${manifest.version}.tgz`, async (work, out) => {
    const stage = join(work, 'routemq');
    for (const input of INPUTS) cpSync(join(ROOT, input), join(stage, input), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
    await exec('npm', ['pack', '--pack-destination', out, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: stage,
      maxBuffer: 64 * 1024 * 1024,
    });
  });
  return { tarball, version: manifest.version, files: await listTarball(tarball), manifest };
}

/**
 * The tarball `fileName` cached under `key`, made by `build` (which packs into `out`; `work` is its scratch
 * directory) when missing. One file packs a content at a time (a lock directory holding its pid): the others wait
 * for it and take its tarball, so a run packs each content once. A lock whose process is gone is taken over; when
 * two files take one over at once both pack, and the first rename wins (slower, never wrong).
 */
async function cached(
  key: string,
  fileName: string,
  build: (work: string, out: string) => Promise<void>,
): Promise<string> {
  const done = join(CACHE, key);
  const tarball = join(done, fileName);
  if (existsSync(tarball)) {
    markUsed(done);
    return tarball;
  }
  mkdirSync(CACHE, { recursive: true });
  const lock = join(CACHE, `${key}.lock`);
  await acquire(lock);
  try {
    if (existsSync(tarball)) return tarball; // the file that held the lock packed it
    const work = mkdtempSync(join(CACHE, 'work-'));
    try {
      const out = join(work, 'out');
      mkdirSync(out);
      await build(work, out);
      try {
        renameSync(out, done);
      } catch (err) {
        if (!existsSync(tarball)) throw err; // another file packed the same content first: use its tarball
      }
      pruneCache(done);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return tarball;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Take the lock directory `lock`: create it, or wait until its holder removes it (or has died). */
async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (holderGone(lock)) rmSync(lock, { recursive: true, force: true });
    else await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
}

function holderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    return false; // just created: its pid is being written
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A cached content in use is recent: another file's prune (by age) leaves it alone. */
function markUsed(dir: string): void {
  const now = new Date();
  utimesSync(dir, now, now);
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

function hashOf(base: string, files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    hash.update(relative(base, file)).update('\0').update(readFileSync(file)).update('\0');
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

/** What an app's package.json names, for {@link appLockfile}. */
export interface AppManifest {
  readonly name: string;
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/**
 * A package-lock.json for an app that depends on packed tarballs (`packed`: routemq, create-routemq) and on other
 * packages of the repository's lock (e.g. zod, typescript, vitest), so `npm ci --offline` installs it from the npm
 * cache that the repository's own `npm ci` filled, without asking the registry (`npm install --offline` would
 * resolve ranges against cached metadata, which may name a newer version than the cached tarball: ENOTCACHED).
 * The tree is the repository's own, cut to what the app reaches: every package keeps its path, so every dependency
 * resolves as it does in the repository. Each tarball's `resolved` is relative to `appDir`; a packed package's
 * dependency on another packed one resolves to that tarball.
 *
 * @throws Error naming the package when a dependency (not optional) is not in the repository's lock: the app asks
 *   for something the repository does not use, which the test cannot install offline.
 */
export function appLockfile(
  appDir: string,
  app: AppManifest,
  packed: PackedPackage | readonly PackedPackage[],
): string {
  interface LockEntry {
    dev?: boolean;
    devOptional?: boolean;
    peer?: boolean;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    [key: string]: unknown;
  }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const tarballs = Array.isArray(packed) ? (packed as readonly PackedPackage[]) : [packed as PackedPackage];
  const packages: Record<string, LockEntry> = {
    '': {
      name: app.name,
      ...(app.version !== undefined && { version: app.version }),
      ...(app.dependencies && { dependencies: app.dependencies }),
      ...(app.devDependencies && { devDependencies: app.devDependencies }),
    },
  };
  // Walk the dependency edges the way Node resolves them: from a package's own node_modules up to the top.
  const queue: { from: string; name: string; optional: boolean }[] = [];
  for (const { manifest, tarball } of tarballs) {
    const key = `node_modules/${manifest.name}`;
    packages[key] = {
      version: manifest.version,
      resolved: `file:${relative(appDir, tarball)}`,
      integrity: integrityOf(tarball),
      license: manifest.license,
      ...(manifest.dependencies && { dependencies: manifest.dependencies }),
      ...(manifest.peerDependencies && { peerDependencies: manifest.peerDependencies }),
      ...(manifest.bin && { bin: manifest.bin }),
      ...(manifest.engines && { engines: manifest.engines }),
    };
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
    queue.push(...deps.map((name) => ({ from: key, name, optional: false })));
  }
  const direct = Object.keys({ ...app.dependencies, ...app.devDependencies });
  queue.push(...direct.map((name) => ({ from: '', name, optional: false })));
  const isPacked = (name: string): boolean => tarballs.some((t) => t.manifest.name === name);
  for (let next = queue.pop(); next; next = queue.pop()) {
    const { from, name, optional } = next;
    if (isPacked(name)) continue;
    const key = locate(lock.packages, from, name);
    if (key === undefined) {
      if (optional) continue;
      throw new Error(`'${name}' (needed by '${from || app.name}') is not in the repository's package-lock.json`);
    }
    if (key in packages) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[key] ?? {};
    packages[key] = entry;
    const peerMeta = entry.peerDependenciesMeta ?? {};
    for (const dep of Object.keys(entry.dependencies ?? {})) queue.push({ from: key, name: dep, optional: false });
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      queue.push({ from: key, name: dep, optional: true });
    }
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      queue.push({ from: key, name: dep, optional: peerMeta[dep]?.optional === true });
    }
  }
  const out = { name: app.name, ...(app.version !== undefined && { version: app.version }) };
  return `${JSON.stringify({ ...out, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
}

/** {@link appLockfile} for the package.json already in `appDir` (e.g. one `routemq new` wrote), written beside it. */
export function writeAppLockfile(appDir: string, packed: PackedPackage | readonly PackedPackage[]): void {
  const app = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as AppManifest;
  writeFileSync(join(appDir, 'package-lock.json'), appLockfile(appDir, app, packed));
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
