import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/broker.js';
import { startBenchBroker } from './broker.js';
import { renderDeadLetters } from './report.js';
import { runPublisher, startRouteMQ } from './sides.js';
import { median } from './stats.js';

/** One run of the dead-letter line. */
export interface DeadLetterRun {
  /** Dead letters in the store when the run ended (all N, unless it timed out). */
  readonly stored: number;
  /** From the first publish until the store held all N, in ms. */
  readonly ms: number;
}

/** Messages of the dead-letter line (the issue's 1,000). */
export const DEAD_LETTER_N = 1000;

/** How long a run may take before it counts as failed. */
const RUN_TIMEOUT_MS = 120_000;

/**
 * The dead-letter path: `n` QoS1 messages to a shared route (W=1) whose handler always throws, with
 * `maxAttempts: 1`, and the time from the first publish until all `n` are in the dead-letter store (the spool
 * file under a fresh state directory, fsynced before each ack). Read from the app's `GET /dead-letters?limit=0`
 * (`total`) every 10 ms, so the figure is late by up to one poll.
 */
export async function measureDeadLetters(url: string, n: number): Promise<DeadLetterRun> {
  const stateDir = mkdtempSync(join(tmpdir(), 'routemq-bench-dlq-'));
  const port = await freePort();
  const side = await startRouteMQ({
    url,
    workers: 1,
    qos: 1,
    env: {
      BENCH_FAIL: '1',
      ROUTEMQ_STATE_DIR: stateDir,
      HEALTH_HTTP_ENABLED: 'true',
      HEALTH_HTTP_PORT: String(port),
      ENABLE_REDIS: 'false',
    },
  });
  try {
    const total = async (): Promise<number> => {
      const response = await fetch(`http://127.0.0.1:${port}/dead-letters?limit=0`);
      return ((await response.json()) as { total: number }).total;
    };
    const publishing = runPublisher(url, n, 1);
    publishing.catch(() => undefined); // awaited below; a failure must not be an unhandled rejection meanwhile
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let stored = 0;
    while ((stored = await total()) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const doneAt = performance.timeOrigin + performance.now();
    const { startedAt } = await publishing;
    return { stored, ms: doneAt - startedAt };
  } finally {
    await side.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The dead-letter line of the results: `reps` runs of {@link measureDeadLetters}. */
export interface DeadLetterResults {
  readonly n: number;
  readonly runs: readonly DeadLetterRun[];
  /** Median ms from the first publish to all `n` stored. */
  readonly msMedian: number;
  readonly msMin: number;
  readonly msMax: number;
}

/** Run the line `reps` times; a run that stored fewer than `n` goes into `problems`. */
export async function deadLetterLine(
  url: string,
  n: number,
  reps: number,
  log: (line: string) => void,
  problems: string[],
): Promise<DeadLetterResults> {
  const runs: DeadLetterRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const run = await measureDeadLetters(url, n);
    runs.push(run);
    log(`  dead letters: ${run.stored}/${n} stored ${run.ms.toFixed(0)} ms after the first publish`);
    if (run.stored < n) problems.push(`dead-letter line stored ${run.stored} of ${n} in ${RUN_TIMEOUT_MS} ms`);
  }
  const ms = runs.map((r) => r.ms);
  return { n, runs, msMedian: median(ms), msMin: Math.min(...ms), msMax: Math.max(...ms) };
}

/**
 * `npm run bench -- --only dead-letters`: the line alone on a broker of its own, its results in
 * `bench/results/<date>-dead-letters.json`. Resolves with the exit code (1 when a run stored fewer than N).
 */
export async function runDeadLettersOnly(reps: number, log: (line: string) => void): Promise<number> {
  const problems: string[] = [];
  const broker = await startBenchBroker();
  try {
    log(`RouteMQ bench, dead-letter line only: N=${DEAD_LETTER_N}, ${reps} repetition(s), broker ${broker.url}`);
    const deadLetters = await deadLetterLine(broker.url, DEAD_LETTER_N, reps, log, problems);
    const date = new Date().toISOString();
    const machine = {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    };
    const command = `npm run bench -- --only dead-letters${reps === 3 ? '' : ` --reps ${reps}`}`;
    const dir = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}${date.slice(0, 19).replace(/:/g, '-')}-dead-letters.json`;
    writeFileSync(file, JSON.stringify({ date, machine, command, deadLetters, problems }, null, 2) + '\n');
    log('\n' + renderDeadLetters(deadLetters));
    log(`results: ${file}`);
  } finally {
    await broker.dispose();
  }
  if (problems.length > 0) process.stderr.write(`bench FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return problems.length > 0 ? 1 : 0;
}
