import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { ensureWritableDir, stateDirError } from '../util/state-dir.js';

/** A held instance lock; {@link release} removes it (idempotent). */
export interface InstanceLock {
  readonly path: string;
  release(): void;
}

/**
 * Make sure the state directory is writable and claim `<stateDir>/<instanceId>.lock` for this process, before
 * anything connects. A lock whose process is gone (a crash, a kill -9) is taken over; one whose process lives is
 * refused. Limits: it guards one host's filesystem only (another host is caught by the session registry), and a
 * pid reused by an unrelated process after a crash reads as live (delete the file, or restart).
 *
 * @throws RouteMQError `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when the directory cannot be created or written,
 *   `RMQ_ERR_INSTANCE_RUNNING` when a live process holds the lock.
 */
export function claimStateDir(stateDir: string, instanceId: string, pid = process.pid): InstanceLock {
  const path = join(stateDir, `${instanceId}.lock`);
  ensureWritableDir(stateDir, 'the instance lock');
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw stateDirError(stateDir, 'the instance lock', err) ?? err;
      }
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== pid && alive(holder)) {
        throw new RouteMQError(
          ErrorCodes.INSTANCE_RUNNING,
          `Another routemq process (pid ${holder}) runs instance '${instanceId}' on the state directory ${stateDir}; ` +
            'stop it first, or give this one its own ROUTEMQ_INSTANCE_ID or ROUTEMQ_STATE_DIR',
        );
      }
      unlinkSync(path); // left by a process that is gone
    }
  }
  let released = false;
  return {
    path,
    release: () => {
      if (released) return;
      released = true;
      try {
        if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
