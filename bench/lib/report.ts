import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as prettier from 'prettier';
import { fileURLToPath } from 'node:url';

const BENCHMARKS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));
const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

interface Results {
  date: string;
  machine: { cores: number; cpu: string | undefined; memoryGb: number; node: string };
  command: string;
  n: number;
  repetitions: number;
  throughput: Record<
    string,
    {
      baselineMedian: number;
      floorMedian?: number;
      oursMedian: number;
      ratio: string;
      floorRatio?: string;
      baselineCpuUs?: number;
      floorCpuUs?: number;
      oursCpuUs?: number;
      cpuRatio?: string;
      floorCpuRatio?: string;
      memoryRatio: number;
      oursPeakMb: number;
      baselinePeakMb: number;
      oursIdleMb: number;
      baselineIdleMb: number;
    }
  >;
  layers: Record<string, { ratio: string; cpuRatio: string }>;
  latency: {
    rate: number;
    runs?: number;
    baseline: { p50: number; p95: number; p99: number };
    ours: { p50: number; p95: number; p99: number };
  }[];
  io: {
    ratio: string;
    cpuRatio?: string;
    baselineMedian: number;
    oursMedian: number;
    kill: { lost: number; duplicated: number };
  };
  startup: { startMs: number; reloadMs: number } | undefined;
  /** Absent from results written before the line existed. */
  deadLetters?: DeadLetterLine;
  problems: string[];
}

/** The dead-letter line's results (bench/lib/dead-letters.ts). */
interface DeadLetterLine {
  n: number;
  runs: readonly unknown[];
  msMedian: number;
  msMin: number;
  msMax: number;
}

/** The dead-letter line as one Markdown paragraph. */
export function renderDeadLetters(d: DeadLetterLine): string {
  return (
    `**Dead letters**: ${d.n} QoS1 messages to a route whose handler always fails (W=1, \`maxAttempts: 1\`, the ` +
    `spool store): all ${d.n} stored ${f0(d.msMedian)} ms after the first publish (median of ${d.runs.length}; ` +
    `${f0(d.msMin)}–${f0(d.msMax)} ms), ${f0((d.n / d.msMedian) * 1000)} dead letters/s.`
  );
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
/** A figure that a run may lack (a cell measured without the floor). */
const opt = (n: number | undefined, f: (n: number) => string): string =>
  n === undefined || Number.isNaN(n) ? '–' : f(n);
const optText = (text: string | undefined): string => (text === undefined || text.startsWith('NaN') ? '–' : text);

/** The results as Markdown tables. */
export function renderMarkdown(r: Results): string {
  const lines = [
    `Run ${r.date} · \`${r.command}\` · N=${r.n} · ${r.repetitions} repetition(s), interleaved · ${r.machine.cores} cores (${r.machine.cpu ?? '?'}), ${r.machine.memoryGb} GiB, Node ${r.machine.node}`,
    '',
    '**Baselines**: _raw_ is plain MQTT.js acking on arrival (`bench/baseline-subscriber.mjs`); _floor_ is plain MQTT.js with ' +
      "RouteMQ's delivery semantics and nothing else: v5, persistent session, receive maximum 256, `JSON.parse`, PUBACK " +
      "from `handleMessage`'s `done()` after that work (`bench/floor-subscriber.mjs`). Ratios are RouteMQ ÷ baseline, the " +
      'median [min–max] of the per-repetition ratios; sides run interleaved, in rotating order.',
    '',
    '**Throughput** (msg/s, median)',
    '',
    '| cell | raw | floor | RouteMQ | ÷ raw | ÷ floor |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...Object.entries(r.throughput).map(
      ([cell, t]) =>
        `| ${cell} | ${f0(t.baselineMedian)} | ${opt(t.floorMedian, f0)} | ${f0(t.oursMedian)} | ${t.ratio} | ${optText(t.floorRatio)} |`,
    ),
    '',
    '**CPU per message** (µs of user + system CPU of the subscriber processes over the timed window ÷ messages handled, median; RouteMQ: its workers)',
    '',
    '| cell | raw | floor | RouteMQ | ÷ raw | ÷ floor |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...Object.entries(r.throughput).map(
      ([cell, t]) =>
        `| ${cell} | ${opt(t.baselineCpuUs, f1)} | ${opt(t.floorCpuUs, f1)} | ${opt(t.oursCpuUs, f1)} | ${optText(t.cpuRatio)} | ${optText(t.floorCpuRatio)} |`,
    ),
    '',
    '**Memory** (MB per worker, median; ratio of peak RSS, RouteMQ ÷ raw)',
    '',
    '| cell | peak RSS (RouteMQ / raw) | idle RSS (RouteMQ / raw) |',
    '| --- | --- | --- |',
    ...Object.entries(r.throughput).map(
      ([cell, t]) =>
        `| ${cell} | ${f1(t.oursPeakMb)} / ${f1(t.baselinePeakMb)} (${f2(t.memoryRatio)}×) | ${f1(t.oursIdleMb)} / ${f1(t.baselineIdleMb)} |`,
    ),
  ];
  if (Object.keys(r.layers).length > 0) {
    lines.push(
      '',
      '**Cost of layers** (W=1, QoS1; RouteMQ ÷ raw in the same run)',
      '',
      '| variant | throughput | CPU per message |',
      '| --- | --- | --- |',
    );
    for (const [name, l] of Object.entries(r.layers)) lines.push(`| ${name} | ${l.ratio} | ${l.cpuRatio} |`);
  }
  if (r.latency.length > 0) {
    lines.push(
      '',
      `**Latency** publish→handler (W=2, QoS1, ms; percentiles over the samples of ${r.latency[0]?.runs ?? 1} run(s) per side, interleaved, one rate at a time)`,
      '',
      '| rate | baseline p50 / p95 / p99 | RouteMQ p50 / p95 / p99 |',
      '| --- | --- | --- |',
    );
    for (const l of r.latency) {
      lines.push(
        `| ${l.rate}/s | ${f2(l.baseline.p50)} / ${f2(l.baseline.p95)} / ${f2(l.baseline.p99)} | ${f2(l.ours.p50)} / ${f2(l.ours.p95)} / ${f2(l.ours.p99)} |`,
      );
    }
  }
  lines.push(
    '',
    `**I/O-bound** (5 ms handler, W=2, QoS1, concurrency 256 vs the unsafe ack-on-arrival baseline): baseline ${f0(r.io.baselineMedian)}/s, RouteMQ ${f0(r.io.oursMedian)}/s, ratio ${r.io.ratio}${r.io.cpuRatio ? ` (CPU per message ${r.io.cpuRatio})` : ''}. With a worker SIGKILLed mid-run: lost ${r.io.kill.lost}, duplicated ${r.io.kill.duplicated}.`,
  );
  if (r.startup) {
    lines.push(
      '',
      `**Start-up**: 4 workers subscribed ${f0(r.startup.startMs)} ms after \`startWorkers()\`; rolling reload of 4 workers ${f0(r.startup.reloadMs)} ms.`,
    );
  }
  if (r.deadLetters) lines.push('', renderDeadLetters(r.deadLetters));
  if (r.problems.length > 0) lines.push('', `**Problems**: ${r.problems.join('; ')}`);
  return lines.join('\n');
}

/** Replace the generated section of BENCHMARKS.md with the latest results, formatted as the repo's Prettier would. */
export async function updateBenchmarksMd(markdown: string): Promise<void> {
  if (!existsSync(BENCHMARKS_MD)) return;
  const text = readFileSync(BENCHMARKS_MD, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) return;
  const updated = `${text.slice(0, begin + BEGIN.length)}\n${markdown}\n${text.slice(end)}`;
  const options = (await prettier.resolveConfig(BENCHMARKS_MD)) ?? {};
  writeFileSync(BENCHMARKS_MD, await prettier.format(updated, { ...options, filepath: BENCHMARKS_MD }));
}
