import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One entry of package-lock.json v3 `packages`. */
interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [key: string]: unknown;
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Write `appDir/package-lock.json` so that `npm ci --offline` installs the app from the npm cache that the repo's
 * own `npm ci` filled: the app's dependencies (and the packed routemq's) are pinned to the versions of the repo's
 * lockfile, whose tarballs are in that cache. Without it, `npm install --offline` resolves ranges against cached
 * registry metadata, which may name a newer version than the cached tarball (ENOTCACHED).
 *
 * The tree is the repo's own, cut to what the app reaches: every package keeps its path, so every dependency
 * resolves as it does in the repo. `routemq` is the tarball, whose dependencies are the repo's.
 *
 * @throws Error naming the package when a dependency is not in the repo's lockfile (the app asks for something
 *   the repo does not use: the test cannot install it offline).
 */
export function writeOfflineLock(appDir: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const app = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as Manifest;
  const routemqSpec = app.dependencies?.['routemq'];
  if (routemqSpec === undefined) throw new Error(`${appDir}/package.json does not depend on routemq`);
  const packages: Record<string, LockEntry> = {
    '': {
      name: app.name,
      version: app.version,
      ...(app.dependencies && { dependencies: app.dependencies }),
      ...(app.devDependencies && { devDependencies: app.devDependencies }),
    },
    'node_modules/routemq': {
      version: repo.version,
      resolved: `file:${relative(appDir, tarball)}`,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      ...(repo.dependencies && { dependencies: repo.dependencies }),
      ...(repo.peerDependencies && { peerDependencies: repo.peerDependencies }),
      ...(repo['bin'] !== undefined && { bin: repo['bin'] }),
      ...(repo['engines'] !== undefined && { engines: repo['engines'] }),
    },
  };
  const queue: [from: string, name: string, optional: boolean][] = [
    ...Object.keys({ ...app.dependencies, ...app.devDependencies })
      .filter((name) => name !== 'routemq')
      .map((name): [string, string, boolean] => ['', name, false]),
    ...Object.keys({ ...repo.dependencies, ...repo.peerDependencies }).map((name): [string, string, boolean] => [
      'node_modules/routemq',
      name,
      false,
    ]),
  ];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [from, name, optional] = next;
    const key = resolveIn(lock.packages, from, name);
    if (key === undefined) {
      if (optional) continue;
      throw new Error(`'${name}' (needed by '${from || app.name}') is not in the repo's package-lock.json`);
    }
    if (packages[key]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock.packages[key] as LockEntry;
    packages[key] = entry;
    const meta = entry.peerDependenciesMeta ?? {};
    for (const dep of Object.keys(entry.dependencies ?? {})) queue.push([key, dep, false]);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) queue.push([key, dep, true]);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) queue.push([key, dep, meta[dep]?.optional === true]);
  }
  const out = { name: app.name, version: app.version, lockfileVersion: 3, requires: true, packages };
  writeFileSync(join(appDir, 'package-lock.json'), `${JSON.stringify(out, null, 2)}\n`);
}

/** Node's lookup from the package at `from` (a lockfile key, `''` for the root): the nearest node_modules/name. */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let base = from; ;) {
    const key = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (packages[key]) return key;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}
