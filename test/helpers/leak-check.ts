import { readFileSync, readdirSync } from 'node:fs';
import { afterAll } from 'vitest';

// A setup file (vitest.config.ts `setupFiles`): after every test file's own teardown, fail the file if any process
// it started is still alive. "Started by this file" means a descendant of this test process, or a process whose
// environment carries the marker below, which every child inherits: an orphaned worker whose parent was killed is
// no longer a descendant, but it still has the marker.

const MARKER = 'ROUTEMQ_TEST_OWNER_PID';
process.env[MARKER] = String(process.pid);

/** How long killed processes get to disappear (SIGKILL is asynchronous) before they count as leaked. */
const SETTLE_MS = 5000;

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid …; comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function hasMarker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${MARKER}=${process.pid}`);
  } catch {
    return false; // gone, or another user's
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

/** Live (not zombie) processes this test process started, directly or not. */
export function leftoverProcesses(): { pid: number; command: string }[] {
  const procs = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProc(Number(name)) ?? []);
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found = new Map<number, Proc>();
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (found.has(child.pid)) continue;
      found.set(child.pid, child);
      walk(child.pid);
    }
  };
  walk(process.pid);
  for (const p of procs) if (p.pid !== process.pid && !found.has(p.pid) && hasMarker(p.pid)) found.set(p.pid, p);
  return [...found.values()]
    .filter((p) => p.state !== 'Z' && p.state !== 'X')
    .map((p) => ({ pid: p.pid, command: commandLine(p.pid) }));
}

/** esbuild's service process (bundling the workers) lives as long as this process unless stopped. */
async function stopEsbuild(left: readonly { command: string }[]): Promise<void> {
  if (!left.some((p) => /esbuild.* --service/.test(p.command))) return;
  const esbuild = await import('esbuild');
  await esbuild.stop();
}

/**
 * An esbuild service that `esbuild.stop()` did not end belongs to a module-loader thread (tsx's, registered by
 * `routemq/testing` to load route files): it ends with this process (it exits when its stdin closes), and nothing
 * here can stop it. Killed, but not counted as a leak (seen once under load, test/unit/testing.test.ts).
 */
const isLoaderEsbuild = (p: { command: string }): boolean => /esbuild.* --service/.test(p.command);

afterAll(async () => {
  await stopEsbuild(leftoverProcesses());
  const deadline = Date.now() + SETTLE_MS;
  let left = leftoverProcesses();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = leftoverProcesses();
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  left = left.filter((p) => !isLoaderEsbuild(p));
  if (left.length === 0) return;
  throw new Error(
    `this test file left ${left.length} process(es) alive after its teardown (now killed):\n` +
      left.map((p) => `  ${p.pid} ${p.command}`).join('\n'),
  );
});
