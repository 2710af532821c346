/**
 * @module
 * The file watcher of `routemq dev` (chokidar): the routers directory (a route file added, changed or removed) and
 * every source file the route files import, never `node_modules`. Changes go through a {@link ReloadScheduler};
 * after each reload the watched set follows the files the new code imports.
 */
import { dirname, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../logger.js';
import { ReloadScheduler } from './reload-scheduler.js';

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
  #watcher: FSWatcher | undefined;
  #files = new Set<string>();
  #stopPromise: Promise<void> | undefined;

  constructor(options: RouteWatcherOptions) {
    this.#o = options;
    this.#scheduler = new ReloadScheduler({
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      run: async (changed) => {
        const files = await this.#o.reload(changed);
        if (files) this.#follow(files);
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
    const watcher = watch([routersDir], {
      ignoreInitial: true,
      depth: 0,
      ignored: (path) => path.split(sep).includes('node_modules'),
    });
    this.#watcher = watcher;
    const onEvent = (path: string): void => this.#scheduler.notify(resolve(path));
    watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    watcher.on('error', (err) => this.#o.logger.warn({ err }, 'file watcher error'));
    await new Promise<void>((done) => watcher.once('ready', done));
    this.#follow(this.#o.files);
  }

  /** Stop watching; waits for a reload in progress. Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      await this.#scheduler.stop();
      await this.#watcher?.close();
    })();
    return this.#stopPromise;
  }

  #follow(files: readonly string[]): void {
    const watcher = this.#watcher;
    if (!watcher) return;
    const routersDir = resolve(this.#o.routersDir);
    // Files directly in the routers directory are watched with it.
    const next = new Set(files.map((f) => resolve(f)).filter((f) => dirname(f) !== routersDir));
    const removed = [...this.#files].filter((f) => !next.has(f));
    const added = [...next].filter((f) => !this.#files.has(f));
    if (removed.length > 0) watcher.unwatch(removed);
    if (added.length > 0) watcher.add(added);
    this.#files = next;
  }
}
