import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, errorMessageOf } from '../errors.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import { NdjsonTail, linesOf, parseLine, readLines, writeSynced } from './ndjson-file.js';
import { matchesFilter, summarize } from './store.js';
import type {
  DeadLetterFilter,
  DeadLetterStore,
  DeadLetterSummary,
  ReplayMark,
  StoreResult,
  StoreSize,
} from './store.js';

/** Options of {@link SpoolStore}. */
export interface SpoolStoreOptions {
  /** The spool's directory (`<ROUTEMQ_STATE_DIR>/dlq`). */
  readonly dir: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  /**
   * Read only (the CLI): never compacts, and writes only the small purge and replay logs (appends of one line,
   * safe beside a running writer). @defaultValue false
   */
  readonly readOnly?: boolean;
}

/** The spool file, one JSON envelope per line. */
export const SPOOL_FILE = 'dead-letters.ndjson';
/** Ids removed by a purge, one `{"id":…}` per line, until the next compaction drops them from the spool. */
const PURGED_FILE = 'purged.ndjson';
/** Replays, one `{"id","at","topic"}` per line. */
const REPLAYED_FILE = 'replayed.ndjson';

interface Entry {
  readonly summary: Omit<DeadLetterSummary, 'replayed'>;
  readonly offset: number;
  readonly length: number;
}

interface Pending {
  readonly envelope: DeadLetterEnvelope;
  readonly line: Buffer;
  readonly resolve: (result: StoreResult) => void;
}

/**
 * Dead letters in an append-only spool file under the state directory, for deployments without Redis.
 *
 * Why a file and not a broker-side parking session: the file is written and fsynced by the one process that holds
 * the state directory's instance lock, before the original is acked, so it survives the app's exit, a broker
 * restart without persistence, a broker whose ACL refuses the dead-letter topic, and a broker with no subscriber.
 * A parking session would depend on the very broker that refused or discarded the dead letter.
 *
 * Writes are group-committed: every put that arrives while a write is in progress goes into the next single
 * `write` + `fdatasync`. A torn last line (the process died mid-write) is skipped when read; its put had not
 * resolved, so its original was never acked. Purges append ids to a small log and the spool is compacted when
 * the writer opens it (at start), or after a purge made most of it dead.
 */
export class SpoolStore implements DeadLetterStore {
  readonly #o: SpoolStoreOptions;
  readonly #file: string;
  readonly #entries = new Map<string, Entry>();
  readonly #replayed = new Map<string, ReplayMark>();
  /** The purge log, read on from where the last read stopped. */
  readonly #purged: NdjsonTail;
  #purgedCount = 0;
  #bytes = 0;
  #fileBytes = 0;
  #full = false;
  #handle: FileHandle | undefined;
  #pending: Pending[] = [];
  #writing: Promise<void> | undefined;
  #needsNewline = false;

  constructor(options: SpoolStoreOptions) {
    this.#o = options;
    this.#file = join(options.dir, SPOOL_FILE);
    this.#purged = new NdjsonTail(join(options.dir, PURGED_FILE));
  }

  async open(): Promise<void> {
    if (!this.#o.readOnly) await mkdir(this.#o.dir, { recursive: true });
    await this.#load();
    if (!this.#o.readOnly && this.#purgedCount > 0) await this.#compact();
  }

  /** (Re)build the index from the files: the spool, then the purge and replay logs. */
  async #load(): Promise<void> {
    const text = await readFile(this.#file).catch(() => Buffer.alloc(0));
    this.#entries.clear();
    this.#bytes = 0;
    this.#purgedCount = 0;
    this.#purged.rewind();
    this.#fileBytes = text.length;
    this.#needsNewline = text.length > 0 && text[text.length - 1] !== 0x0a;
    for (const [line, offset] of linesOf(text)) this.#index(line, offset);
    await this.#readPurged();
    for (const line of await readLines(join(this.#o.dir, REPLAYED_FILE))) {
      const mark = parseLine<{ id: string; at: string; topic: string }>(line);
      if (mark) this.#replayed.set(mark.id, { at: mark.at, topic: mark.topic });
    }
  }

  put(envelope: DeadLetterEnvelope): Promise<StoreResult> {
    const line = Buffer.from(`${JSON.stringify(envelope)}\n`);
    return new Promise((resolve) => {
      this.#pending.push({ envelope, line, resolve });
      this.#writing ??= this.#flush();
    });
  }

  async list(filter?: DeadLetterFilter): Promise<DeadLetterSummary[]> {
    await this.#readPurged();
    const result: DeadLetterSummary[] = [];
    for (const { summary } of this.#entries.values()) {
      const full = { ...summary, replayed: this.#replayed.get(summary.id) };
      if (matchesFilter(full, filter)) result.push(full);
    }
    return result;
  }

  /**
   * The whole envelope, read at its indexed place in the spool. The writer reads under its write lock, so a
   * compaction (which moves entries) never runs in between. A read-only store (the CLI) may have indexed the spool
   * before the writer, in another process, compacted it: what it reads there is checked to be the envelope asked
   * for, and if it is not, the index is rebuilt from the files and the entry read once more.
   */
  async get(id: string): Promise<DeadLetterEnvelope | undefined> {
    if (!this.#o.readOnly) {
      let found: DeadLetterEnvelope | undefined;
      await this.#exclusive(async () => {
        await this.#readPurged();
        found = await this.#read(id);
      });
      return found;
    }
    await this.#readPurged();
    const found = await this.#read(id);
    if (found !== undefined || !this.#entries.has(id)) return found;
    await this.#load();
    return this.#read(id);
  }

  /** The envelope at `id`'s indexed place, if the bytes there are that envelope. */
  async #read(id: string): Promise<DeadLetterEnvelope | undefined> {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const handle = await open(this.#file, 'r');
    try {
      const buffer = Buffer.alloc(entry.length);
      const { bytesRead } = await handle.read(buffer, 0, entry.length, entry.offset);
      const envelope = bytesRead === entry.length ? parseLine<DeadLetterEnvelope>(buffer) : undefined;
      return envelope?.id === id ? envelope : undefined;
    } finally {
      await handle.close();
    }
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const ids = (await this.list(filter)).map((s) => s.id);
    if (ids.length === 0) return 0;
    const lines = ids.map((id) => `${JSON.stringify({ id })}\n`).join('');
    await writeSynced(join(this.#o.dir, PURGED_FILE), lines, 'append');
    await this.#readPurged();
    this.#full = false;
    if (!this.#o.readOnly && this.#purgedCount > this.#entries.size) await this.#exclusive(() => this.#compact());
    return ids.length;
  }

  async markReplayed(id: string, mark: ReplayMark): Promise<ReplayMark | undefined> {
    const previous = this.#replayed.get(id);
    await writeSynced(join(this.#o.dir, REPLAYED_FILE), `${JSON.stringify({ id, ...mark })}\n`, 'append');
    this.#replayed.set(id, mark);
    return previous;
  }

  size(): StoreSize {
    return {
      kind: 'file',
      location: this.#file,
      entries: this.#entries.size,
      bytes: this.#bytes,
      maxEntries: this.#o.maxEntries,
      maxBytes: this.#o.maxBytes,
      full: this.#full,
    };
  }

  async close(): Promise<void> {
    await this.#writing;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  /** Write every pending put, as one write and one sync per round, until none is left. */
  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        await this.#readPurged();
        const accepted: Pending[] = [];
        let entries = this.#entries.size;
        let bytes = this.#bytes;
        for (const p of batch) {
          if (entries + 1 > this.#o.maxEntries || bytes + p.line.length > this.#o.maxBytes) {
            this.#full = true;
            p.resolve({
              ok: false,
              code: ErrorCodes.DLQ_STORE_FULL,
              message:
                `The dead-letter store ${this.#file} is full (${entries} of ${this.#o.maxEntries} entries, ` +
                `${bytes} of ${this.#o.maxBytes} bytes)`,
            });
            continue;
          }
          entries++;
          bytes += p.line.length;
          accepted.push(p);
        }
        if (accepted.length > 0) await this.#write(accepted);
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #write(accepted: Pending[]): Promise<void> {
    try {
      this.#handle ??= await open(this.#file, 'a');
      const lines = accepted.map((p) => p.line);
      if (this.#needsNewline) lines.unshift(Buffer.from('\n'));
      const data = Buffer.concat(lines);
      await this.#handle.write(data);
      await this.#handle.datasync();
      let offset = this.#fileBytes + (this.#needsNewline ? 1 : 0);
      this.#needsNewline = false;
      this.#fileBytes += data.length;
      for (const p of accepted) {
        this.#add(p.envelope, offset, p.line.length - 1);
        offset += p.line.length;
      }
      this.#full = false;
      for (const p of accepted) p.resolve({ ok: true, id: p.envelope.id });
    } catch (err) {
      // The file may now end in a partial line: the next write starts on a new line. The originals stay unacked.
      this.#needsNewline = true;
      await this.#handle?.close().catch(() => undefined);
      this.#handle = undefined;
      this.#fileBytes = (await stat(this.#file).catch(() => undefined))?.size ?? this.#fileBytes;
      const message = `Could not write the dead-letter store ${this.#file}: ${errorMessageOf(err)}`;
      for (const p of accepted) p.resolve({ ok: false, code: ErrorCodes.DLQ_STORE_FAILED, message });
    }
  }

  #index(line: Buffer, offset: number): void {
    const envelope = parseLine<DeadLetterEnvelope>(line);
    if (envelope?.routemq === 'dead-letter' && typeof envelope.id === 'string') {
      this.#add(envelope, offset, line.length);
    }
  }

  #add(envelope: DeadLetterEnvelope, offset: number, length: number): void {
    const { replayed: _replayed, ...summary } = summarize(envelope, undefined);
    const had = this.#entries.get(envelope.id);
    if (had) this.#bytes -= had.length + 1;
    this.#entries.set(envelope.id, { summary, offset, length });
    this.#bytes += length + 1;
  }

  /** Apply the purge log's lines added since the last read (a CLI in another process may append to it). */
  async #readPurged(): Promise<void> {
    for (const line of await this.#purged.readNew()) {
      const id = parseLine<{ id: string }>(line)?.id;
      const entry = id === undefined ? undefined : this.#entries.get(id);
      if (!entry || id === undefined) continue;
      this.#entries.delete(id);
      this.#bytes -= entry.length + 1;
      this.#purgedCount++;
    }
  }

  /** Rewrite the spool with the live entries only (write a new file, sync, rename), then empty the purge log. */
  async #compact(): Promise<void> {
    const live: Buffer[] = [];
    const kept: { envelope: DeadLetterEnvelope; length: number }[] = [];
    for (const line of await readLines(this.#file)) {
      const envelope = parseLine<DeadLetterEnvelope>(line);
      if (!envelope || !this.#entries.has(envelope.id)) continue;
      live.push(line, Buffer.from('\n'));
      kept.push({ envelope, length: line.length });
    }
    const tmp = `${this.#file}.compact`;
    await writeSynced(tmp, Buffer.concat(live), 'replace');
    await this.#handle?.close();
    this.#handle = undefined;
    await rename(tmp, this.#file);
    await (await open(join(this.#o.dir, PURGED_FILE), 'w')).close();
    this.#purged.rewind();
    this.#purgedCount = 0;
    this.#entries.clear();
    this.#bytes = 0;
    let offset = 0;
    for (const { envelope, length } of kept) {
      this.#add(envelope, offset, length);
      offset += length + 1;
    }
    this.#fileBytes = offset;
    this.#needsNewline = false;
  }

  /** Run `op` while no write is in progress, and hold writes back until it is done. */
  async #exclusive(op: () => Promise<void>): Promise<void> {
    while (this.#writing) await this.#writing;
    let release: () => void = () => undefined;
    this.#writing = new Promise<void>((resolve) => (release = resolve));
    try {
      await op();
    } finally {
      this.#writing = undefined;
      release();
      if (this.#pending.length > 0) this.#writing ??= this.#flush();
    }
  }
}
