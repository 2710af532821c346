import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/routemq.js', import.meta.url));
const live = new Set<ChildProcess>();
// One state directory per test file (vitest loads this module once per file): apps of two files running at once
// never share an instance lock, bundles or a control socket, while a restart within a file finds its own again.
const STATE_DIR = mkdtempSync(join(tmpdir(), 'routemq-state-'));

// A safety net: whatever a test file spawned dies with it, even if its fixture never ran its teardown.
process.once('exit', () => {
  for (const child of live) killGroup(child);
  rmSync(STATE_DIR, { recursive: true, force: true });
});

/** A `routemq` CLI process started by a test, with its output captured line by line. */
export interface SpawnedApp {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Parsed JSON log lines (pino). */
  logs(): Record<string, unknown>[];
  /** Resolve when a log line satisfies `predicate`. */
  waitForLog(
    predicate: (log: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolve with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL the app's whole process group (the app and every worker it forked, even orphaned ones); resolves on exit. */
  kill(): Promise<void>;
}

/**
 * Run `routemq <args>` with the given env (added to a clean copy of process.env).
 *
 * @param bin - the CLI script to run with node. @defaultValue the repository's bin/routemq.js
 */
export function spawnRouteMQ(
  args: readonly string[],
  env: Record<string, string>,
  cwd?: string,
  bin: string = BIN,
): SpawnedApp {
  // No control socket unless the test asks for one: the default path is per working directory, and two test
  // files running at once would each find the other's app listening there.
  return spawnProcess(process.execPath, [bin, ...args], {
    env: {
      ...process.env,
      LOG_PRETTY: 'false',
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      ROUTEMQ_CONTROL_SOCKET: 'none',
      ROUTEMQ_STATE_DIR: STATE_DIR,
      ...env,
    },
    cwd,
  });
}

/**
 * Run `file <args>` with exactly `env` (nothing inherited), in its own process group, with its output captured line
 * by line. Killed with its group by {@link SpawnedApp.kill}, and when the test file's process exits.
 */
export function spawnProcess(
  file: string,
  args: readonly string[],
  options: { readonly env: NodeJS.ProcessEnv; readonly cwd?: string | undefined },
): SpawnedApp {
  const child = spawn(file, args, {
    cwd: options.cwd,
    // Its own process group, so cleanup can kill the app and every worker it forked in one go.
    detached: true,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (buffer: { rest: string }) => (chunk: Buffer) => {
    buffer.rest += chunk.toString();
    const parts = buffer.rest.split('\n');
    buffer.rest = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData({ rest: '' }));
  child.stderr?.on('data', onData({ rest: '' }));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const logs = (): Record<string, unknown>[] =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    child,
    lines,
    logs,
    exited,
    waitForLog(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = logs().find(predicate);
          if (found) {
            cleanup();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`process exited before the expected log line. Output:\n${lines.slice(-30).join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for a log line. Output:\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      killGroup(child);
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** SIGKILL the app's whole process group (the app and its workers); the app alone if the group is gone. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
