/**
 * @module
 * When `routemq dev` reloads: after the files have been quiet for `debounceMs` (an editor's save is often several
 * events: write, rename, chmod), one reload at a time, and one more after it when files changed during it. Pure
 * timing logic with no I/O, so it is tested with fake timers.
 */

/** Options of {@link ReloadScheduler}. */
export interface ReloadSchedulerOptions {
  /** Quiet time after the last change before a reload starts, ms. @defaultValue 100 */
  readonly debounceMs?: number;
  /** Runs one reload for the files changed since the last one. Must not reject (report failures itself). */
  readonly run: (changed: readonly string[]) => Promise<void>;
}

/** Coalesces file changes into reloads that never overlap. */
export class ReloadScheduler {
  readonly #debounceMs: number;
  readonly #run: ReloadSchedulerOptions['run'];
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ReloadSchedulerOptions) {
    this.#debounceMs = options.debounceMs ?? 100;
    this.#run = options.run;
  }

  /** Files changed and not yet reloaded (for tests and logs). */
  get pending(): readonly string[] {
    return [...this.#pending];
  }

  /** A file changed: (re)start the quiet period. Ignored after {@link stop}. */
  notify(file: string): void {
    if (this.#stopped) return;
    this.#pending.add(file);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), this.#debounceMs);
  }

  /** No more reloads; resolves once a reload in progress has finished. Memoised in effect. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #fire(): void {
    this.#timer = undefined;
    // A reload is running: it schedules the next one when it ends.
    if (this.#running || this.#stopped || this.#pending.size === 0) return;
    const changed = [...this.#pending];
    this.#pending.clear();
    this.#running = this.#run(changed).finally(() => {
      this.#running = undefined;
      if (this.#pending.size > 0 && !this.#timer) this.#timer = setTimeout(() => this.#fire(), this.#debounceMs);
    });
  }
}
