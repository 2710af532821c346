// `npm run bench:dispatch`: the CPU a worker spends per message, in two parts.
//
// 1. The dispatch path alone (route match, decode, handler run, stats, ack bookkeeping), without broker or MQTT.js:
//    bench/lib/dispatch-entry.ts in fresh processes, the median "cold" µs per message (the first 12.5k: a W=4
//    worker's share of a 50k run, JIT warm-up included) and "warm" µs per message.
// 2. The whole QoS path, from the socket through MQTT.js and handleMessage to the PUBACK bytes written:
//    bench/lib/qos-path-entry.ts against a stand-in broker in another process (bench/lib/fake-broker.mjs), for
//    RouteMQ (a Consumer, as in a worker) and for the two baselines of `npm run bench` (the floor: plain MQTT.js
//    with RouteMQ's delivery semantics; raw: plain MQTT.js acking on arrival), 12.5k messages each, in fresh
//    processes, interleaved.
//
// With --callgrind, each part also counts instructions per message under valgrind with V8's --single-threaded
// --predictable (the count for N messages minus the count for 1): repeatable to about 0.1% on this noisy machine,
// where the timings move by ±20%, so it is the figure to compare two versions of the hot path by.
//
//   npm run bench:dispatch [-- --runs 9] [-- --qos 0|1] [-- --n 12500] [-- --callgrind] [-- --only qos] [-- --inproc]
//     [-- --side routemq]
// --inproc runs the QoS path's stand-in broker inside the subscriber's process (bench/lib/stand-in-broker.mjs): one
// process holds every read and write, so the callgrind count repeats (with the broker apart it moves by several
// percent, finding 20); the count then includes the broker's socket writes, the same for every side.
// --tagged gives RouteMQ's subscriber a client id that does not name its subscription, so it subscribes with a v5
// subscription identifier (finding 22). --side routemq|floor|baseline measures that side alone (to compare two
// versions of one side).
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { median } from './lib/stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, '.routemq', 'bench-dispatch.mjs');
const qosOut = join(root, '.routemq', 'bench-qos-path.mjs');
const brokerScript = join(root, 'bench', 'lib', 'fake-broker.mjs');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(flag('--runs') ?? 9);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
const qos = Number(flag('--qos') ?? 1);
if (qos !== 0 && qos !== 1) throw new Error('--qos takes 0 or 1');
const qosN = Number(flag('--n') ?? 12_500);
if (!Number.isInteger(qosN) || qosN < 2) throw new Error('--n takes a whole number above 1');
const only = flag('--only');
const callgrind = args.includes('--callgrind');
const inproc = args.includes('--inproc');
const tagged = args.includes('--tagged');
const onlySide = flag('--side');
if (onlySide !== undefined && !['routemq', 'floor', 'baseline'].includes(onlySide)) {
  throw new Error('--side takes routemq, floor or baseline');
}
const NODE_FLAGS = ['--max-semi-space-size=4']; // as workers run (DEFAULT_WORKER_EXEC_ARGV)

/**
 * RouteMQ's CommonJS dependencies (and MQTT.js for the baselines) load with `require`, as in a worker's bundle
 * (src/worker/worker-bundle.ts): an ESM `import` would run Node's export scanner over MQTT.js, and V8 would spend
 * most of a second optimising the scanner, on a compiler thread, into the measured window.
 */
const requireCommonJs: Plugin = {
  name: 'bench-require-commonjs',
  setup(b) {
    b.onResolve({ filter: /^(mqtt|pino|secure-json-parse|ioredis)$/ }, (args) => ({
      path: args.path,
      namespace: 'bench-require',
    }));
    b.onLoad({ filter: /.*/, namespace: 'bench-require' }, (args) => ({
      contents: [
        `import { createRequire } from 'node:module';`,
        `const m = createRequire(${JSON.stringify(join(root, 'package.json'))})(${JSON.stringify(args.path)});`,
        'export default m;',
        ...(args.path === 'pino' ? ['export const pino = m.pino;'] : []),
        ...(args.path === 'ioredis' ? ['export const Redis = m.Redis;'] : []),
      ].join('\n'),
      loader: 'js',
    }));
  },
};

mkdirSync(join(root, '.routemq'), { recursive: true });
for (const [entry, outfile] of [
  ['dispatch-entry.ts', out],
  ['qos-path-entry.ts', qosOut],
]) {
  await build({
    entryPoints: [join(root, 'bench', 'lib', entry as string)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: [requireCommonJs],
    logLevel: 'warning',
  });
}

const spread = (values: number[]): string =>
  `${median(values).toFixed(2)} [${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}]`;
const VALGRIND_TO = (file: string): string[] => ['--tool=callgrind', `--callgrind-out-file=${file}`];
const VALGRIND = VALGRIND_TO('/dev/null');
const V8_PREDICTABLE = ['--single-threaded', '--predictable'];
const collected = (stderr: string): number => {
  const count = /Collected : (\d+)/.exec(stderr)?.[1];
  if (count === undefined) throw new Error(`valgrind failed:\n${stderr.slice(-2000)}`);
  return Number(count);
};

if (only === undefined || only === 'dispatch') measureDispatch();
if (only === undefined || only === 'qos') await measureQosPath();

function measureDispatch(): void {
  const samples = Array.from({ length: runs }, () => {
    const text = execFileSync(process.execPath, [...NODE_FLAGS, out], { encoding: 'utf8' });
    return JSON.parse(text) as { coldUs: number; warmUs: number };
  });
  console.log(`dispatch path, ${runs} fresh processes (median [min–max] µs of CPU per message):`);
  console.log(`  cold (first 12,500): ${spread(samples.map((s) => s.coldUs))}`);
  console.log(`  warm (next 12,500):  ${spread(samples.map((s) => s.warmUs))}`);

  if (callgrind) {
    const instructions = (n: number): number => {
      const run = spawnSync('valgrind', [...VALGRIND, process.execPath, ...NODE_FLAGS, ...V8_PREDICTABLE, out], {
        encoding: 'utf8',
        env: { ...process.env, DISPATCH_N: String(n), DISPATCH_COLD_ONLY: '1' },
      });
      if (run.status !== 0) throw new Error(`valgrind failed:\n${run.stderr.slice(-2000)}`);
      return collected(run.stderr);
    };
    const n = 12_500;
    const perMessage = (instructions(n) - instructions(1)) / n;
    console.log(`  cold, instructions per message (callgrind, --predictable): ${Math.round(perMessage)}`);
  }
}

type QosSide = 'routemq' | 'floor' | 'baseline';

/**
 * One subscriber run of the QoS path against a fresh stand-in broker: µs of CPU per message, or with `valgrind`
 * the instructions per message from the first message to the last ack written. For the count, the broker holds
 * its messages until `callgrind_control` has dumped (and so zeroed) the counts of the start-up, and the subscriber
 * waits after its last ack until the counts of the window are dumped.
 */
async function runQosPath(side: QosSide, n: number, valgrind: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-qos-path-'));
  const env = {
    ...process.env,
    BENCH_N: String(n),
    BENCH_QOS: String(qos),
    ...(valgrind ? { BENCH_HOLD: '1' } : {}),
    ...(inproc ? { BENCH_INPROC: '1' } : {}),
    ...(tagged ? { BENCH_TAGGED: '1' } : {}),
  };
  // --inproc: the broker runs inside the subscriber (bench/lib/stand-in-broker.mjs) and starts on a `go` line.
  const broker = inproc
    ? undefined
    : fork(brokerScript, [], { execArgv: [], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: Record<string, unknown>[] = [];
  const brokerSaid = (key: string): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = messages.find((m) => key in m);
        if (found) {
          broker?.off('message', onMessage);
          resolve(found);
        }
      };
      const onMessage = (): void => check();
      broker?.on('message', onMessage);
      check();
    });
  broker?.on('message', (m) => messages.push(m as Record<string, unknown>));
  try {
    const port = broker ? ((await brokerSaid('port'))['port'] as number) : 0;
    const cgOut = join(dir, 'callgrind.out');
    const command = valgrind
      ? ['valgrind', [...VALGRIND_TO(cgOut), process.execPath, ...NODE_FLAGS, ...V8_PREDICTABLE, qosOut]]
      : [process.execPath, [...NODE_FLAGS, qosOut]];
    const child = spawn(command[0] as string, command[1] as string[], {
      env: { ...env, BENCH_PORT: String(port), BENCH_SIDE: side },
    });
    let stdout = '';
    let stderr = '';
    const lines: ((text: string) => void)[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const waiter of lines) waiter(stdout);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const printed = (pattern: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const waiter = (text: string): void => {
          if (pattern.test(text)) resolve();
        };
        lines.push(waiter);
        waiter(stdout);
        void exited.then((code) => reject(new Error(`${side} subscriber exited with ${String(code)}:\n${stderr}`)));
      });
    let instructions = 0;
    if (valgrind) {
      await Promise.all([printed(/^ready$/m), broker ? brokerSaid('subscribed') : undefined]);
      dumpCounts(child.pid ?? 0, `${cgOut}.1`);
      if (broker) broker.send('go');
      else child.stdin.write('go\n');
      await printed(/^\{.*\}$/m);
      dumpCounts(child.pid ?? 0, `${cgOut}.2`);
      instructions = Number(/^summary: (\d+)/m.exec(readFileSync(`${cgOut}.2`, 'utf8'))?.[1]);
      child.stdin.end();
    } else if (!broker) {
      await printed(/^ready$/m);
      child.stdin.end('go\n');
    }
    const code = await exited;
    if (code !== 0) throw new Error(`${side} subscriber exited with ${String(code)}:\n${stderr.slice(-2000)}`);
    const report = JSON.parse(/^\{.*\}$/m.exec(stdout)?.[0] ?? '{}') as { cpuUs: number; acked?: number };
    // Every message must have been acked on the wire (QoS1), or the count would flatter whoever skipped acks.
    const acks = broker ? ((await brokerSaid('acked'))['acked'] as number) : report.acked;
    if (qos === 1 && acks !== n) throw new Error(`${side}: the broker got ${acks} PUBACKs for ${n} messages`);
    return valgrind ? instructions / n : report.cpuUs;
  } finally {
    broker?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Dump (and zero) a callgrind run's counts now, and wait until the dump is written. */
function dumpCounts(pid: number, file: string): void {
  execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'pipe' });
  if (!existsSync(file)) throw new Error(`callgrind_control wrote no ${file}`);
}

async function measureQosPath(): Promise<void> {
  const sides: QosSide[] = onlySide ? [onlySide as QosSide] : ['baseline', 'floor', 'routemq'];
  const timings: Record<QosSide, number[]> = { baseline: [], floor: [], routemq: [] };
  for (let r = 0; r < runs; r++) {
    // Interleaved, in rotating order: no side always runs first.
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(k + r) % sides.length] as QosSide;
      timings[side].push(await runQosPath(side, qosN, false));
    }
  }
  console.log(
    `QoS${qos} path, socket to PUBACK written (${qosN} messages, ${runs} fresh processes per side, interleaved; ` +
      'median [min–max] µs of CPU per message):',
  );
  for (const side of sides) console.log(`  ${side.padEnd(8)} ${spread(timings[side])}`);
  const ratio = (a: QosSide, b: QosSide): string =>
    spread(timings[a].map((value, i) => value / (timings[b][i] as number)));
  if (!onlySide) {
    console.log(`  routemq ÷ floor ${ratio('routemq', 'floor')}, routemq ÷ baseline ${ratio('routemq', 'baseline')}`);
  }
  if (!callgrind) return;
  const perMessage: Partial<Record<QosSide, number>> = {};
  for (const side of sides) perMessage[side] = await runQosPath(side, qosN, true);
  console.log(`  instructions per message (callgrind, --predictable; first message to last ack written):`);
  for (const side of sides) console.log(`    ${side.padEnd(8)} ${Math.round(perMessage[side] ?? NaN)}`);
  if (onlySide) return;
  console.log(
    `    routemq ÷ floor ${((perMessage.routemq ?? NaN) / (perMessage.floor ?? NaN)).toFixed(3)}, ` +
      `routemq ÷ baseline ${((perMessage.routemq ?? NaN) / (perMessage.baseline ?? NaN)).toFixed(3)}`,
  );
}
