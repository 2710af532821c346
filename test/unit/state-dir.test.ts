import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import { ensureWritableDir, stateDirError } from '../../src/util/state-dir.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-state-'));
  dirs.push(dir);
  return dir;
}

function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('the state directory', () => {
  it('is created with its parents when missing', () => {
    const dir = join(tempDir(), '.routemq', 'build', '123');
    expect(() => ensureWritableDir(dir, 'the worker build')).not.toThrow();
  });

  it('is refused with RMQ_ERR_STATE_DIR_NOT_WRITABLE naming it when a file is in the way', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, '.routemq'), 'not a directory');
    const dir = join(cwd, '.routemq', 'build', '123');
    const err = thrownBy(() => ensureWritableDir(dir, 'the worker build'));
    expect(err).toBeInstanceOf(RouteMQError);
    expect(err).toMatchObject({ code: ErrorCodes.STATE_DIR_NOT_WRITABLE });
    expect((err as Error).message).toContain(`Cannot write the worker build in ${dir} (ENOTDIR: a file is in the way)`);
  });

  // Root may write anywhere, so this only runs as another user (as CI does); the errno mapping below runs always.
  it.skipIf(process.getuid?.() === 0)('is refused when the directory is read-only', () => {
    const cwd = tempDir();
    chmodSync(cwd, 0o500);
    const err = thrownBy(() => ensureWritableDir(join(cwd, '.routemq'), 'the control socket'));
    expect(err).toMatchObject({ code: ErrorCodes.STATE_DIR_NOT_WRITABLE });
    expect((err as Error).message).toContain('(EACCES: permission denied)');
  });

  it.each(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC'])('maps %s to the coded error', (code) => {
    const cause = Object.assign(new RouteMQError(ErrorCodes.INTERNAL, 'fs'), { code });
    const err = stateDirError('/srv/app/.routemq', 'the control socket', cause, 'Set X.');
    expect(err?.code).toBe(ErrorCodes.STATE_DIR_NOT_WRITABLE);
    expect(err?.message).toMatch(`Cannot write the control socket in /srv/app/.routemq (${code}: `);
    expect(err?.message).toMatch(/\. Set X\.$/);
    expect(err?.cause).toBe(cause);
  });

  it('leaves other failures alone', () => {
    expect(
      stateDirError('/x', 'y', Object.assign(new RouteMQError(ErrorCodes.INTERNAL, 'fs'), { code: 'EMFILE' })),
    ).toBe(undefined);
    expect(stateDirError('/x', 'y', 'not an errno')).toBeUndefined();
  });
});
