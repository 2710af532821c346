import { accessSync, constants, mkdirSync } from 'node:fs';
import { ErrorCodes, RouteMQError } from '../errors.js';

/** Errno codes that mean "this directory cannot be created or written here", with what each one means. */
const NOT_WRITABLE: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a file is in the way',
  EEXIST: 'a file is in the way',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};

/**
 * Create `dir` (and its parents) when missing, and check that this process can write to it. RouteMQ keeps its
 * state there: worker bundles (`.routemq/build/<pid>`), the control socket (`.routemq/control.sock`), the
 * development broker's files.
 *
 * @param what - what the directory is for, named in the error (e.g. `'the worker build'`).
 * @param hint - how to move it elsewhere, appended to the error. @defaultValue run from a writable directory
 * @throws RouteMQError `RMQ_ERR_STATE_DIR_NOT_WRITABLE` naming the directory and the errno code (`EACCES`, `EROFS`,
 *   `ENOTDIR` when a file is in the way, …). Other failures are thrown as they are.
 */
export function ensureWritableDir(dir: string, what: string, hint = DEFAULT_HINT): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw stateDirError(dir, what, err, hint) ?? err;
  }
}

/**
 * The coded error for a filesystem failure `err` on the state directory `dir`, or `undefined` when `err` is not a
 * "cannot write here" errno (see {@link ensureWritableDir}).
 */
export function stateDirError(dir: string, what: string, err: unknown, hint = DEFAULT_HINT): RouteMQError | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const meaning = typeof code === 'string' && Object.hasOwn(NOT_WRITABLE, code) ? NOT_WRITABLE[code] : undefined;
  if (meaning === undefined) return undefined;
  const message = `Cannot write ${what} in ${dir} (${String(code)}: ${meaning}). ${hint}`;
  return new RouteMQError(ErrorCodes.STATE_DIR_NOT_WRITABLE, message, { cause: err });
}

const DEFAULT_HINT =
  'RouteMQ keeps its state in ROUTEMQ_STATE_DIR (default .routemq/ under the working directory): point it at a directory it may write to.';
