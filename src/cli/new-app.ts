import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, RouteMQError } from '../errors.js';

/** Options of {@link createApp}. */
export interface NewAppOptions {
  /** Where to write the app; created when missing, refused when it holds anything. */
  readonly dir: string;
  /** The package name. @defaultValue the directory's name, lower-cased, other characters than `a-z0-9-._` made `-` */
  readonly name?: string;
  /** The `routemq` dependency. @defaultValue `^<this package's version>` */
  readonly routemqSpec?: string;
}

/** The templates shipped with the package (`templates/app/`), beside `src/` in a checkout and `dist/` installed. */
export const APP_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/app/', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));

/** Template files whose names npm would drop or misread when packing: their names in the app. */
const RENAMES: Readonly<Record<string, string>> = {
  '_package.json': 'package.json',
  _gitignore: '.gitignore',
  _dockerignore: '.dockerignore',
  '_env.example': '.env.example',
};

/** Used when this package's own manifest does not name one (it always does in a release). */
const FALLBACK_RANGES = { zod: '^4.0.0', typescript: '^5.9.0', vitest: '^4.0.0', '@types/node': '^20.0.0' };

/**
 * Write a new RouteMQ app from `templates/app/`: package.json, tsconfig, `routers/`, `app/`, a route test with
 * `routemq/testing`, `.env.example`, `.gitignore`, a Dockerfile and compose.yaml. `{{name}}`, `{{routemqSpec}}`
 * and the dependency ranges (this package's own: zod, typescript, vitest, @types/node) are filled in.
 *
 * @returns the files written, relative to the app's directory, sorted.
 * @throws RouteMQError `RMQ_ERR_NEW_DIR_NOT_EMPTY` when `dir` exists and is not empty (nothing is written);
 *   `RMQ_ERR_FILE_WRITE_FAILED` when a directory or file cannot be written (the message names it and the errno).
 */
export async function createApp(options: NewAppOptions): Promise<string[]> {
  const dir = resolve(options.dir);
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw writeError(dir, err);
  });
  if (existing.length > 0) {
    throw new RouteMQError(ErrorCodes.NEW_DIR_NOT_EMPTY, `${dir} is not empty; give a new or empty directory`);
  }
  const values = await templateValues(dir, options);
  const written: string[] = [];
  for (const source of await templateFiles(APP_TEMPLATE_DIR)) {
    const rel = relative(APP_TEMPLATE_DIR, source);
    const target = join(
      dir,
      rel.replace(/[^/\\]+$/, (name) => RENAMES[name] ?? name),
    );
    const text = (await readFile(source, 'utf8')).replace(/\{\{(\w+)\}\}/g, (all, key: string) => values[key] ?? all);
    try {
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, text, { flag: 'wx' });
    } catch (err) {
      const e = writeError(target, err as NodeJS.ErrnoException);
      if (written.length === 0) throw e;
      throw new RouteMQError(e.code, `${e.message}; the ${written.length} files written before it are left in ${dir}`, {
        cause: err,
      });
    }
    written.push(relative(dir, target));
  }
  return written.sort();
}

/** An npm package name from a directory name. */
export function packageNameFor(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9-._]+/g, '-')
    .replace(/^[-._]+|-+$/g, '');
  return name || 'routemq-app';
}

async function templateValues(dir: string, options: NewAppOptions): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const range = (name: keyof typeof FALLBACK_RANGES): string =>
    pkg.peerDependencies?.[name] ?? pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? FALLBACK_RANGES[name];
  return {
    name: options.name ?? packageNameFor(dir),
    routemqSpec: options.routemqSpec ?? `^${pkg.version}`,
    zodRange: range('zod'),
    typescriptRange: range('typescript'),
    vitestRange: range('vitest'),
    typesNodeRange: range('@types/node'),
  };
}

async function templateFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await templateFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

function writeError(path: string, err: NodeJS.ErrnoException): RouteMQError {
  return new RouteMQError(ErrorCodes.FILE_WRITE_FAILED, `Cannot write ${path}: ${err.code ?? err.message}`, {
    cause: err,
  });
}
