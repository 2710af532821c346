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
      oursMedian: number;
      ratio: string;
      memoryRatio: number;
      oursPeakMb: number;
      baselinePeakMb: number;
      oursIdleMb: number;
      baselineIdleMb: number;
    }
  >;
  layers: Record<string, string>;
  latency: {
    rate: number;
    runs?: number;
    baseline: { p50: number; p95: number; p99: number };
    ours: { p50: number; p95: number; p99: number };
  }[];
  io: { ratio: string; baselineMedian: number; oursMedian: number; kill: { lost: number; duplicated: number } };
  startup: { startMs: number; reloadMs: number } | undefined;
  problems: string[];
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);

/** The results as Markdown tables. */
export function renderMarkdown(r: Results): string {
  const lines = [
    `Run ${r.date} · \`${r.command}\` · N=${r.n} · ${r.repetitions} repetition(s), interleaved · ${r.machine.cores} cores (${r.machine.cpu ?? '?'}), ${r.machine.memoryGb} GiB, Node ${r.machine.node}`,
    '',
    '**Throughput** (msg/s, median; ratio = RouteMQ ÷ baseline, median [min–max] over repetitions)',
    '',
    '| cell | baseline | RouteMQ | ratio | peak RSS/worker (ours / baseline, MB) | idle RSS (ours / baseline, MB) |',
    '| --- | ---: | ---: | --- | --- | --- |',
    ...Object.entries(r.throughput).map(
      ([cell, t]) =>
        `| ${cell} | ${f0(t.baselineMedian)} | ${f0(t.oursMedian)} | ${t.ratio} | ${f1(t.oursPeakMb)} / ${f1(t.baselinePeakMb)} (${f2(t.memoryRatio)}×) | ${f1(t.oursIdleMb)} / ${f1(t.baselineIdleMb)} |`,
    ),
  ];
  if (Object.keys(r.layers).length > 0) {
    lines.push(
      '',
      '**Cost of layers** (W=1, QoS1; ratio to the baseline of the same run)',
      '',
      '| variant | ratio |',
      '| --- | --- |',
    );
    for (const [name, ratio] of Object.entries(r.layers)) lines.push(`| ${name} | ${ratio} |`);
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
    `**I/O-bound** (5 ms handler, W=2, QoS1, concurrency 256 vs the unsafe ack-on-arrival baseline): baseline ${f0(r.io.baselineMedian)}/s, RouteMQ ${f0(r.io.oursMedian)}/s, ratio ${r.io.ratio}. With a worker SIGKILLed mid-run: lost ${r.io.kill.lost}, duplicated ${r.io.kill.duplicated}.`,
  );
  if (r.startup) {
    lines.push(
      '',
      `**Start-up**: 4 workers subscribed ${f0(r.startup.startMs)} ms after \`startWorkers()\`; rolling reload of 4 workers ${f0(r.startup.reloadMs)} ms.`,
    );
  }
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
