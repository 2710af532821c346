import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import type { Seen } from '../helpers/seen.js';

// Every scenario runs against a Mosquitto the test starts from config/mosquitto.conf: persistence on,
// max_queued_messages 100000, max_inflight_messages 0 (the client's receive maximum rules), unless the scenario
// states otherwise.

/** The total-queue checker's verdict for one scenario (Jepsen style). */
export interface Verdict {
  readonly published: number;
  /** Acked by the broker but neither handled nor dead-lettered. Must be empty. */
  readonly lost: string[];
  /** Handled more than once. */
  readonly duplicated: string[];
  /** Handled but never published. Must be empty. */
  readonly unexpected: string[];
}

/** lost = acked ∖ (seen ∪ dlq); duplicated = seen more than once; unexpected = seen ∖ published. */
export function verdict(acked: readonly string[], seen: readonly Seen[], dlq: readonly string[] = []): Verdict {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
  const dead = new Set(dlq);
  const published = new Set(acked);
  return {
    published: acked.length,
    lost: acked.filter((id) => !counts.has(id) && !dead.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !published.has(id)),
  };
}

/** Print the scenario's one line: scenario, published, lost, duplicated, unexpected, duration. */
export function report(scenario: string, v: Verdict, startedAt: number): void {
  process.stdout.write(
    `fault-scenario ${scenario}: published=${v.published} lost=${v.lost.length} duplicated=${v.duplicated.length} ` +
      `unexpected=${v.unexpected.length} duration=${((Date.now() - startedAt) / 1000).toFixed(1)}s\n`,
  );
}

/** The ids of dead letters (the id is the last topic level of the original message). */
export function deadLetterIds(envelopes: readonly DeadLetterEnvelope[]): string[] {
  return envelopes.map((e) => e.topic.split('/').at(-1) ?? '');
}
