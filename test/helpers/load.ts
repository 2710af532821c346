import { execFileSync } from 'node:child_process';
import type { MqttClient } from 'mqtt';

/** A publisher sending QoS1 messages at a steady rate; `acked` holds every id whose PUBACK arrived. */
export interface SteadyPublisher {
  readonly acked: string[];
  /** Ids published so far (acked or not). */
  readonly sent: () => number;
  /** Resolves when `total` messages were sent, or after {@link stop}. */
  readonly done: Promise<void>;
  stop(): Promise<string[]>;
}

/** Publish `total` messages (or until stopped) at about `ratePerSec`, with ids `<prefix><n>`. */
export function steadyPublisher(
  client: MqttClient,
  options: { topic: (id: string) => string; ratePerSec: number; total?: number; prefix?: string; payload?: string },
): SteadyPublisher {
  const acked: string[] = [];
  let next = 0;
  let stopped = false;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((options.ratePerSec * tickMs) / 1000));
  const done = (async () => {
    while (!stopped && (options.total === undefined || next < options.total)) {
      const started = Date.now();
      const batch: Promise<void>[] = [];
      for (let k = 0; k < perTick && (options.total === undefined || next < options.total); k++) {
        const id = `${options.prefix ?? ''}${next++}`;
        batch.push(
          client
            .publishAsync(options.topic(id), options.payload ?? '{}', { qos: 1 })
            .then(() => void acked.push(id))
            .catch(() => undefined),
        );
      }
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - started))));
    }
  })();
  return {
    acked,
    sent: () => next,
    done,
    async stop() {
      stopped = true;
      await done;
      return acked;
    },
  };
}

/** Pids of this process's live children whose command line contains `match`. */
export function childPids(match = 'worker-entry', parent = process.pid): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child
  }
  return out
    .split('\n')
    .filter((line) => line.includes(match) && !line.includes('<defunct>'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
