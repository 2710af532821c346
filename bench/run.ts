// `npm run bench` (and `npm run bench:quick`): RouteMQ against raw MQTT.js and against the floor for its delivery
// semantics (bench/floor-subscriber.mjs), on the same private broker, in the same run, interleaved. Every figure is a
// ratio to the baselines measured alongside it: throughput, and CPU per message of the subscriber processes. Exits
// non-zero only when a run failed (lost QoS1 messages, a crash), never for speed.
//
//   npm run bench [-- --reps 5]
//   npm run bench:quick [-- --cell 2,1 [--cell 4,1 …]] [--reps 3] [--n 50000]
//   npm run bench -- --only dead-letters [--reps 3]   (that line alone; BENCHMARKS.md is left alone)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startBenchBroker } from './lib/broker.js';
import { DEAD_LETTER_N, deadLetterLine, runDeadLettersOnly } from './lib/dead-letters.js';
import { measureIoKill, measureLatency, measureStartup, measureThroughput } from './lib/scenarios.js';
import type { SideResult, ThroughputResult } from './lib/scenarios.js';
import { median, spread } from './lib/stats.js';
import { renderMarkdown, updateBenchmarksMd } from './lib/report.js';

const quick = process.argv.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const nGiven = Number(flag('--n'));
if (flag('--n') !== undefined && !(Number.isInteger(nGiven) && nGiven > 0)) throw new Error('--n takes a count');
const N = flag('--n') !== undefined ? nGiven : quick ? 10_000 : 50_000;
/** `--reps N` for more repetitions on a noisy machine (the issue asks for 3 or more; `--quick` runs 1 by default). */
const repsGiven = Number(flag('--reps'));
if (flag('--reps') !== undefined && !Number.isInteger(repsGiven)) throw new Error('--reps takes a whole number');
const REPS = flag('--reps') !== undefined ? Math.max(quick ? 1 : 3, repsGiven) : quick ? 1 : 3;
/** `--quick --cell 4,0` picks the quick cell (W, QoS) while working on one of them; repeat it for more cells. */
const quickCells = process.argv.flatMap((arg, i) => (arg === '--cell' ? [process.argv[i + 1] ?? ''] : []));
if (quickCells.length === 0) quickCells.push('2,1');
const problems: string[] = [];
const log = (line: string): void => void process.stdout.write(line + '\n');
/** `--only dead-letters` runs that line alone (the only line `--only` knows so far). */
const only = flag('--only');
if (only !== undefined && only !== 'dead-letters') throw new Error('--only takes: dead-letters');
if (only === 'dead-letters') {
  // Its own broker, results file and exit code; none of the lines below run.
  process.exit(await runDeadLettersOnly(flag('--reps') !== undefined ? Math.max(1, repsGiven) : 3, log));
}

const broker = await startBenchBroker();
log(`RouteMQ bench: N=${N}, ${REPS} repetition(s), broker ${broker.url}, ${cpus().length} cores`);

try {
  const cells: { w: number; qos: 0 | 1 }[] = quick
    ? quickCells.map((text) => {
        const [w, qos] = text.split(',').map(Number);
        if (!Number.isInteger(w) || (w ?? 0) < 1 || (qos !== 0 && qos !== 1)) throw new Error('--cell takes W,QoS');
        return { w: w as number, qos: qos };
      })
    : [1, 2, 4].flatMap((w) => [0, 1].map((qos) => ({ w, qos: qos as 0 | 1 })));
  const throughput: Record<string, ThroughputResult[]> = {};
  for (let rep = 0; rep < REPS; rep++) {
    for (const cell of cells) {
      const result = await measureThroughput(broker.url, { ...cell, n: N, floor: true }, rep);
      (throughput[`W=${cell.w} QoS${cell.qos}`] ??= []).push(result);
      const side = (name: string, r: SideResult | undefined): string =>
        r ? `${name} ${r.rate.toFixed(0)}/s ${r.cpuUsPerMsg.toFixed(1)} µs/msg` : `${name} -`;
      log(
        `  rep ${rep + 1} W=${cell.w} QoS${cell.qos}: ${side('baseline', result.baseline)}, ${side('floor', result.floor)}, ` +
          `${side('routemq', result.ours)}; RouteMQ/baseline ${result.ratio.toFixed(2)} (CPU ${result.cpuRatio.toFixed(2)}), ` +
          `RouteMQ/floor ${result.floorRatio?.toFixed(2) ?? '-'} (CPU ${result.floorCpuRatio?.toFixed(2) ?? '-'})`,
      );
      if (cell.qos === 1 && result.ours.count < N)
        problems.push(`W=${cell.w} QoS1 lost ${N - result.ours.count} messages`);
      if (cell.qos === 1 && result.floor && result.floor.count < N)
        problems.push(`W=${cell.w} QoS1 floor lost ${N - result.floor.count} messages`);
    }
  }

  const layers: Record<string, ThroughputResult[]> = {};
  if (!quick) {
    const variants: [string, Record<string, string>][] = [
      ['1 middleware', { BENCH_MIDDLEWARE: '1' }],
      ['5 middlewares', { BENCH_MIDDLEWARE: '5' }],
      ['zod schema', { BENCH_SCHEMA: '1' }],
      ['100 routes in the trie', { BENCH_EXTRA_ROUTES: '100' }],
    ];
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, env] of variants) {
        const r = await measureThroughput(broker.url, { w: 1, qos: 1, n: N, env }, rep);
        (layers[name] ??= []).push(r);
        log(`  layer ${name}: ratio ${r.ratio.toFixed(2)}, CPU ratio ${r.cpuRatio.toFixed(2)}`);
      }
    }
  }

  // One rate at a time: run concurrently (as before), the two rates' publishers fed every subscriber of both runs
  // (all subscribe to bench/+), so each side saw double traffic and the other run's start-up and teardown.
  const latencyResults = [];
  for (const rate of quick ? [] : [1000, 5000]) {
    const r = await measureLatency(broker.url, rate, REPS);
    log(`  latency ${r.rate}/s: p99 ours ${r.ours.p99.toFixed(2)} ms, baseline ${r.baseline.p99.toFixed(2)} ms`);
    latencyResults.push(r);
  }

  const io: ThroughputResult[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const r = await measureThroughput(
      broker.url,
      { w: 2, qos: 1, n: quick ? 5000 : 20_000, ioMs: 5, env: { BENCH_CONCURRENCY: '256' } },
      rep,
    );
    io.push(r);
    log(
      `  io-bound (5 ms, W=2, concurrency 256): baseline ${r.baseline.rate.toFixed(0)}/s, routemq ${r.ours.rate.toFixed(0)}/s, ratio ${r.ratio.toFixed(2)}`,
    );
  }
  const ioKill = await measureIoKill(broker.url, quick ? 5000 : 20_000);
  log(`  io-bound with a worker killed mid-run: lost ${ioKill.lost}, duplicated ${ioKill.duplicated}`);
  if (ioKill.lost > 0) problems.push(`io-bound kill run lost ${ioKill.lost} messages`);

  const deadLetters = await deadLetterLine(broker.url, DEAD_LETTER_N, REPS, log, problems);

  const startup = quick ? undefined : await measureStartup(broker.url);
  if (startup)
    log(
      `  start-up of 4 workers: ${startup.startMs.toFixed(0)} ms; rolling reload of 4: ${startup.reloadMs.toFixed(0)} ms`,
    );

  const results = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    command: quick ? 'npm run bench:quick' : REPS === 3 ? 'npm run bench' : `npm run bench -- --reps ${REPS}`,
    n: N,
    repetitions: REPS,
    throughput: Object.fromEntries(
      Object.entries(throughput).map(([cell, runs]) => [
        cell,
        {
          baselineMedian: median(runs.map((r) => r.baseline.rate)),
          floorMedian: median(runs.map((r) => r.floor?.rate ?? NaN)),
          oursMedian: median(runs.map((r) => r.ours.rate)),
          ratio: spread(runs.map((r) => r.ratio)),
          ratioMedian: median(runs.map((r) => r.ratio)),
          floorRatio: spread(runs.map((r) => r.floorRatio ?? NaN)),
          floorRatioMedian: median(runs.map((r) => r.floorRatio ?? NaN)),
          baselineCpuUs: median(runs.map((r) => r.baseline.cpuUsPerMsg)),
          floorCpuUs: median(runs.map((r) => r.floor?.cpuUsPerMsg ?? NaN)),
          oursCpuUs: median(runs.map((r) => r.ours.cpuUsPerMsg)),
          cpuRatio: spread(runs.map((r) => r.cpuRatio)),
          cpuRatioMedian: median(runs.map((r) => r.cpuRatio)),
          floorCpuRatio: spread(runs.map((r) => r.floorCpuRatio ?? NaN)),
          floorCpuRatioMedian: median(runs.map((r) => r.floorCpuRatio ?? NaN)),
          runs: runs.map((r) => ({
            baseline: { rate: r.baseline.rate, cpuUs: r.baseline.cpuUsPerMsg },
            floor: r.floor ? { rate: r.floor.rate, cpuUs: r.floor.cpuUsPerMsg } : undefined,
            ours: { rate: r.ours.rate, cpuUs: r.ours.cpuUsPerMsg },
          })),
          memoryRatio: median(runs.map((r) => r.memoryRatio)),
          oursPeakMb: median(runs.map((r) => r.ours.peakMb)),
          baselinePeakMb: median(runs.map((r) => r.baseline.peakMb)),
          oursIdleMb: median(runs.map((r) => r.ours.idleMb)),
          baselineIdleMb: median(runs.map((r) => r.baseline.idleMb)),
        },
      ]),
    ),
    layers: Object.fromEntries(
      Object.entries(layers).map(([name, runs]) => [
        name,
        { ratio: spread(runs.map((r) => r.ratio)), cpuRatio: spread(runs.map((r) => r.cpuRatio)) },
      ]),
    ),
    latency: latencyResults,
    io: {
      ratio: spread(io.map((r) => r.ratio)),
      cpuRatio: spread(io.map((r) => r.cpuRatio)),
      baselineMedian: median(io.map((r) => r.baseline.rate)),
      oursMedian: median(io.map((r) => r.ours.rate)),
      kill: ioKill,
    },
    startup,
    deadLetters,
    problems,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${results.date.slice(0, 19).replace(/:/g, '-')}${quick ? '-quick' : ''}.json`;
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  const markdown = renderMarkdown(results);
  log('\n' + markdown);
  if (!quick) await updateBenchmarksMd(markdown);
  log(`results: ${file}`);
} finally {
  await broker.dispose();
}
if (problems.length > 0) {
  process.stderr.write(`bench FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exitCode = 1;
}
