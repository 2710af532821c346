// `npm run test:loaded [-- <vitest args>]`: the suite while another process keeps one core busy, as on a CI machine
// or a laptop doing other work. The busy loop is bounded (it ends by itself after MAX_BUSY_MS, and when this
// runner's IPC channel closes), and this runner always kills it, whatever way vitest ends.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAX_BUSY_MS = 30 * 60_000;
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

// Spins in 100 ms slices, so that it still notices its parent going away between slices.
const BUSY_LOOP = `
const end = Date.now() + Number(process.argv[1]);
process.on('disconnect', () => process.exit(0));
const spin = () => {
  const until = Date.now() + 100;
  while (Date.now() < until);
  if (Date.now() < end) setImmediate(spin);
  else process.exit(0);
};
spin();
`;

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

const startedAt = Date.now();
const busy = spawn(process.execPath, ['-e', BUSY_LOOP, String(MAX_BUSY_MS)], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
process.stdout.write(`test:loaded: a busy loop (pid ${busy.pid}) keeps one core busy while the suite runs\n`);
const vitest = spawn(process.execPath, [VITEST, 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => vitest.kill(signal));

let code: number | null = 1;
try {
  code = await exited(vitest);
} finally {
  const cpu = cpuSeconds(busy.pid);
  busy.kill('SIGKILL');
  await exited(busy);
  const wall = (Date.now() - startedAt) / 1000;
  process.stdout.write(
    `test:loaded: the busy loop used ${cpu.toFixed(0)} s of CPU in ${wall.toFixed(0)} s; vitest exited ${code}\n`,
  );
}
process.exit(code ?? 1);
