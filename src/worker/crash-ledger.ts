/** Options of {@link CrashLedger}. */
export interface CrashLedgerOptions {
  /** Deaths with a message in hand after which it is dead-lettered instead of run (`ROUTEMQ_MAX_CRASHES`). */
  readonly maxCrashes: number;
  /** Identities kept at most, over every pool and slot; past it the least recently counted is forgotten. */
  readonly maxEntries?: number;
  /** An identity not counted again for this long is forgotten, in ms. */
  readonly ttlMs?: number;
  /** @defaultValue Date.now */
  readonly now?: () => number;
}

/** {@link CrashLedgerOptions.maxEntries}'s default. */
export const CRASH_LEDGER_MAX_ENTRIES = 1024;
/** {@link CrashLedgerOptions.ttlMs}'s default: one hour. */
export const CRASH_LEDGER_TTL_MS = 3_600_000;

interface Entry {
  deaths: number;
  lastAt: number;
}

/**
 * The main process's count of worker deaths per (pool, slot, message identity): how many times a process of that
 * slot died with the message in hand (its identity is `messageKey`'s). A slot's messages come back to the same
 * slot (its persistent session), so the count is per slot. A message counted `maxCrashes` times is handed to the
 * slot's next process as one to dead-letter instead of running ({@link poisoned}).
 *
 * Limits: at most `maxEntries` identities (the least recently counted is forgotten first), each forgotten `ttlMs`
 * after its last death, or as soon as it is acked (handled or dead-lettered). In memory only: when the main
 * process restarts, every count is lost, and a message may then be delivered up to `maxCrashes + 1` more times.
 * A forgotten identity starts over from 0 the same way.
 */
export class CrashLedger {
  readonly #maxCrashes: number;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** By `<pool>\0<slot>\0<key>`, least recently counted first (Map order: a count moves it to the end). */
  readonly #entries = new Map<string, Entry>();

  constructor(options: CrashLedgerOptions) {
    this.#maxCrashes = options.maxCrashes;
    this.#maxEntries = options.maxEntries ?? CRASH_LEDGER_MAX_ENTRIES;
    this.#ttlMs = options.ttlMs ?? CRASH_LEDGER_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Identities counted now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A process of `slot` died with the messages `keys` in hand: count one death for each (a key listed twice
   * counts once). Returns each key's count now.
   */
  recordDeath(pool: string, slot: number, keys: readonly string[]): { key: string; deaths: number }[] {
    const now = this.#now();
    this.#expire(now);
    const counted: { key: string; deaths: number }[] = [];
    for (const key of new Set(keys)) {
      const id = entryId(pool, slot, key);
      const entry = this.#entries.get(id) ?? { deaths: 0, lastAt: now };
      this.#entries.delete(id);
      entry.deaths++;
      entry.lastAt = now;
      this.#entries.set(id, entry);
      counted.push({ key, deaths: entry.deaths });
    }
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(id);
    }
    return counted;
  }

  /** The identities of `slot` counted `maxCrashes` times or more, with their counts: dead-letter, do not run. */
  poisoned(pool: string, slot: number): [key: string, deaths: number][] {
    this.#expire(this.#now());
    const prefix = entryId(pool, slot, '');
    const found: [string, number][] = [];
    for (const [id, entry] of this.#entries) {
      if (entry.deaths >= this.#maxCrashes && id.startsWith(prefix))
        found.push([id.slice(prefix.length), entry.deaths]);
    }
    return found;
  }

  /** How many deaths `key` is counted for in `slot` (0 when none or forgotten). */
  deaths(pool: string, slot: number, key: string): number {
    return this.#entries.get(entryId(pool, slot, key))?.deaths ?? 0;
  }

  /** The message `key` of `slot` was acked (handled or dead-lettered): forget it. */
  forget(pool: string, slot: number, key: string): void {
    this.#entries.delete(entryId(pool, slot, key));
  }

  #expire(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.lastAt >= this.#ttlMs) this.#entries.delete(id);
    }
  }
}

function entryId(pool: string, slot: number, key: string): string {
  return `${pool}\0${String(slot)}\0${key}`;
}
