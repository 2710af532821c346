/**
 * @module
 * The file watcher of `routemq dev` (chokidar): the routers directory (a route file added, changed or removed) and
 * every source file the route files import, never `node_modules`. Changes go through a {@link ReloadScheduler};
 * after each reload the watched set follows the files the new code imports. chokidar sets up the watch of an added
 * file asynchronously and says nothing when it is active, so a file saved between the start of the reload that
 * first imports it and that moment has no event: once the file is watched, a save since the reload started (or
 * the file gone) reloads once more.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../logger.js';
import { ReloadScheduler } from './reload-scheduler.js';

/** How often to look whether chokidar watches the files added after a reload, and for how long at most, ms. */
const WATCH_POLL_MS = 10;
const WATCH_WAIT_MS = 10_000;
/**
 * How long before a reload started a new file's mtime may be and still count as saved during it, ms: a clock tick
 * (fine-grained mtimes; below the debounce, so a file saved before the change that started the reload does not
 * reload twice), or 2.5 s for whole-second mtimes (FAT, HFS+, ext3).
 */
const MTIME_SLACK_MS = 50;
const WHOLE_SECOND_MTIME_SLACK_MS = 2_500;

/** Options of {@link RouteWatcher}. */
export interface RouteWatcherOptions {
  /** The routers directory (`ROUTEMQ_ROUTERS_DIR`), watched one level deep. */
  readonly routersDir: string;
  /** The source files the route files import now (absolute). */
  readonly files: readonly string[];
  /** See {@link ReloadScheduler}. @defaultValue 100 */
  readonly debounceMs?: number;
  /**
   * Reload after `changed` changed. Resolves with the files to watch from now on (those the new code imports, or
   * after a failure those watched before and those of the failure), or `undefined` to keep the watched set. Must
   * not reject.
   */
  readonly reload: (changed: readonly string[]) => Promise<readonly string[] | undefined>;
  readonly logger: Logger;
}

/** Watches route files and what they import, and reloads on change. Limits: see `docs/configuration.md`. */
export class RouteWatcher {
  readonly #o: RouteWatcherOptions;
  readonly #scheduler: ReloadScheduler;
  readonly #stopping = new AbortController();
  #watcher: FSWatcher | undefined;
  #files = new Set<string>();
  #stopPromise: Promise<void> | undefined;

  constructor(options: RouteWatcherOptions) {
    this.#o = options;
    this.#scheduler = new ReloadScheduler({
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      run: async (changed) => {
        const startedMs = Date.now();
        const files = await this.#o.reload(changed);
        if (files) await this.#catchUp(this.#follow(files), startedMs);
      },
    });
  }

  /** The files watched now, besides the routers directory. */
  get files(): readonly string[] {
    return [...this.#files];
  }

  /** Start watching; resolves once the initial scan is done (changes from then on trigger reloads). */
  async start(): Promise<void> {
    const routersDir = resolve(this.#o.routersDir);
    // The files are watched from the start, so 'ready' waits for their watches too.
    this.#files = this.#select(this.#o.files);
    const watcher = watch([routersDir, ...this.#files], {
      ignoreInitial: true,
      depth: 0,
      ignored: inNodeModules,
    });
    this.#watcher = watcher;
    const onEvent = (path: string): void => this.#scheduler.notify(resolve(path));
    watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    watcher.on('error', (err) => this.#o.logger.warn({ err }, 'file watcher error'));
    await new Promise<void>((done) => watcher.once('ready', done));
  }

  /** Stop watching; waits for a reload in progress (not for its new files' watches). Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#stopping.abort();
      await this.#scheduler.stop();
      await this.#watcher?.close();
    })();
    return this.#stopPromise;
  }

  /** The files to watch besides the routers directory (its own files are watched with it). */
  #select(files: readonly string[]): Set<string> {
    const routersDir = resolve(this.#o.routersDir);
    return new Set(files.map((f) => resolve(f)).filter((f) => dirname(f) !== routersDir && !inNodeModules(f)));
  }

  /** Watches `files` from now on; returns those newly added. */
  #follow(files: readonly string[]): string[] {
    const watcher = this.#watcher;
    if (!watcher || this.#stopping.signal.aborted) return [];
    const next = this.#select(files);
    const removed = [...this.#files].filter((f) => !next.has(f));
    const added = [...next].filter((f) => !this.#files.has(f));
    if (removed.length > 0) watcher.unwatch(removed);
    if (added.length > 0) watcher.add(added);
    this.#files = next;
    return added;
  }

  /**
   * Notifies each of `added` that is gone, or saved at or after `sinceMs` (`Date.now()`), once chokidar watches it
   * (a later save has its event) or after {@link WATCH_WAIT_MS}. Returns early, quietly, on {@link stop}.
   */
  async #catchUp(added: readonly string[], sinceMs: number): Promise<void> {
    const watcher = this.#watcher;
    const signal = this.#stopping.signal;
    const deadline = Date.now() + WATCH_WAIT_MS;
    let left = [...added];
    while (left.length > 0 && watcher && !signal.aborted) {
      // Looked at before the stats: a file watched here misses no save after its stat.
      const watched = watcher.getWatched();
      const timedOut = Date.now() >= deadline;
      const waiting: string[] = [];
      for (const file of left) {
        const ready = timedOut || (watched[dirname(file)]?.includes(basename(file)) ?? false);
        // undefined: gone (or unreadable), which reloads too.
        const mtimeMs = await stat(file)
          .then((s) => s.mtimeMs)
          .catch(() => undefined);
        if (signal.aborted) return;
        if (!ready && mtimeMs !== undefined) waiting.push(file);
        else if (mtimeMs === undefined || mtimeMs >= sinceMs - slackMs(mtimeMs)) this.#scheduler.notify(file);
      }
      left = waiting;
      // Rejects at once on stop(), clearing its timer.
      if (left.length > 0) await sleep(WATCH_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }
}

function inNodeModules(path: string): boolean {
  return path.split(sep).includes('node_modules');
}

function slackMs(mtimeMs: number): number {
  return mtimeMs % 1000 === 0 ? WHOLE_SECOND_MTIME_SLACK_MS : MTIME_SLACK_MS;
}
