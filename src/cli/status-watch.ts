import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthSnapshot } from '../health/health-monitor.js';
import { errorMessageOf, isRouteMQError } from '../errors.js';
import { onInterrupt } from './signals.js';
import { formatStatus } from './status-view.js';

/** Cursor home, then clear the screen (ANSI/VT100 `CSI H`, `CSI 2J`): each frame redraws in place. */
export const CLEAR_SCREEN = '\u001b[H\u001b[2J';

/** Options of {@link watchStatus}. */
export interface WatchStatusOptions {
  /** Ask the running instance for its status. */
  readonly fetch: () => Promise<HealthSnapshot>;
  readonly write: (text: string) => void;
  /** Time between frames, in ms. @defaultValue 1000 */
  readonly intervalMs?: number;
}

/**
 * `routemq status --watch`: redraw the status table in place every second, like `pm2 monit`, until Ctrl-C
 * (SIGINT) or SIGTERM; then resolve (the command exits 0). A failed request shows its code and message in the
 * frame and is retried at the next tick (the instance may be restarting), instead of ending the watch.
 */
export async function watchStatus(options: WatchStatusOptions): Promise<void> {
  const intervalMs = options.intervalMs ?? 1000;
  const stopped = new AbortController();
  const removeHandlers = onInterrupt(() => stopped.abort());
  try {
    while (!stopped.signal.aborted) {
      let frame: string;
      try {
        frame = formatStatus(await options.fetch());
      } catch (err) {
        const code = isRouteMQError(err) ? `${err.code}: ` : '';
        frame = `status unavailable: ${code}${errorMessageOf(err)}\n`;
      }
      if (stopped.signal.aborted) break;
      options.write(
        `${CLEAR_SCREEN}${frame}\nrefreshing every ${intervalMs / 1000} s at ${new Date().toISOString()}; Ctrl-C to exit\n`,
      );
      await sleep(intervalMs, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  } finally {
    removeHandlers();
  }
  options.write('\n');
}
