import { liveFigures } from '../message/stats-window.js';
import type { LiveFigures, WindowDelta } from '../message/stats-window.js';
import type { MessageStatsSnapshot } from '../message/stats.js';

/** One route pattern over every process that serves it (the main process and the workers of this host). */
export interface RouteFigures {
  readonly route: string;
  /** Messages/s over the last 10 s, percentiles over the last 60 s (see `LiveFigures`). */
  readonly recent: LiveFigures;
  /**
   * Messages received and not yet acked, summed over this host's processes. The broker's queue for the session is
   * not visible to a client over MQTT, so messages the broker still holds are not counted.
   */
  readonly backlogMessages: number;
  /** Age of the oldest message received and not yet acked, in seconds; 0 when there is none. */
  readonly oldestUnackedAgeSeconds: number;
}

/**
 * Figures per route pattern (the `known` ones, and any that has stats), sorted by pattern. Processes without stats
 * are skipped.
 */
export function routeFiguresOf(
  deltas: readonly WindowDelta[],
  stats: readonly (MessageStatsSnapshot | undefined)[],
  now: number,
  known: Iterable<string> = [],
): RouteFigures[] {
  const patterns = new Set<string>(known);
  for (const s of stats) for (const route of Object.keys(s?.routes ?? {})) patterns.add(route);
  for (const d of deltas) for (const route of d.finished.keys()) patterns.add(route);
  return [...patterns].sort().map((route) => {
    let backlogMessages = 0;
    let oldest = Infinity;
    for (const s of stats) {
      const b = s?.backlog?.[route];
      if (!b || b.messages === 0) continue;
      backlogMessages += b.messages;
      oldest = Math.min(oldest, b.oldestReceivedAt);
    }
    return {
      route,
      recent: liveFigures(deltas, new Set([route])),
      backlogMessages,
      oldestUnackedAgeSeconds: oldest === Infinity ? 0 : Math.max(0, now - oldest) / 1000,
    };
  });
}

/** A pool's (or the main process's) backlog on `/scaling`: its routes' {@link RouteFigures} combined. */
export interface ScalingBacklog {
  /** Messages received and not yet acked by this host's processes of the pool. */
  readonly backlogMessages: number;
  /** Age of the oldest of them, in seconds; 0 when none. */
  readonly oldestUnackedAgeSeconds: number;
}

/** Combine the figures of `routes` (patterns) into one {@link ScalingBacklog}. */
export function backlogOf(figures: readonly RouteFigures[], routes: readonly string[]): ScalingBacklog {
  const wanted = new Set(routes);
  let backlogMessages = 0;
  let oldestUnackedAgeSeconds = 0;
  for (const f of figures) {
    if (!wanted.has(f.route)) continue;
    backlogMessages += f.backlogMessages;
    oldestUnackedAgeSeconds = Math.max(oldestUnackedAgeSeconds, f.oldestUnackedAgeSeconds);
  }
  return { backlogMessages, oldestUnackedAgeSeconds };
}
