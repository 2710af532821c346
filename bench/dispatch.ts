// `npm run bench:dispatch`: the CPU a worker spends per message in RouteMQ's own dispatch path (route match,
// decode, handler run, stats, ack bookkeeping), without broker or MQTT.js. It runs bench/lib/dispatch-entry.ts in
// fresh processes and prints the median "cold" µs per message (the first 12.5k: a W=4 worker's share of a 50k run,
// JIT warm-up included) and "warm" µs per message. With --callgrind it also counts the instructions per message of
// the cold phase under valgrind with V8's --single-threaded --predictable: repeatable to 0.01% on this noisy machine,
// where the timings move by ±20%, so it is the figure to compare two versions of the hot path by.
//
//   npm run bench:dispatch [-- --runs 9] [-- --callgrind]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { median } from './lib/stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.routemq', 'bench-dispatch.mjs');
const args = process.argv.slice(2);
const runsFlag = args.indexOf('--runs');
const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 9;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
const NODE_FLAGS = ['--max-semi-space-size=4']; // as workers run (DEFAULT_WORKER_EXEC_ARGV)

mkdirSync(join(root, '.routemq'), { recursive: true });
await build({
  entryPoints: [join(root, 'bench', 'lib', 'dispatch-entry.ts')],
  outfile: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});

const samples = Array.from({ length: runs }, () => {
  const text = execFileSync(process.execPath, [...NODE_FLAGS, out], { encoding: 'utf8' });
  return JSON.parse(text) as { coldUs: number; warmUs: number };
});
const spread = (values: number[]): string =>
  `${median(values).toFixed(2)} [${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}]`;
console.log(`dispatch path, ${runs} fresh processes (median [min–max] µs of CPU per message):`);
console.log(`  cold (first 12,500): ${spread(samples.map((s) => s.coldUs))}`);
console.log(`  warm (next 12,500):  ${spread(samples.map((s) => s.warmUs))}`);

if (args.includes('--callgrind')) {
  const instructions = (n: number): number => {
    const run = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        '--callgrind-out-file=/dev/null',
        process.execPath,
        ...NODE_FLAGS,
        '--single-threaded',
        '--predictable',
        out,
      ],
      { encoding: 'utf8', env: { ...process.env, DISPATCH_N: String(n), DISPATCH_COLD_ONLY: '1' } },
    );
    const collected = /Collected : (\d+)/.exec(run.stderr)?.[1];
    if (run.status !== 0 || collected === undefined) throw new Error(`valgrind failed:\n${run.stderr.slice(-2000)}`);
    return Number(collected);
  };
  const n = 12_500;
  const perMessage = (instructions(n) - instructions(1)) / n;
  console.log(`  cold, instructions per message (callgrind, --predictable): ${Math.round(perMessage)}`);
}
