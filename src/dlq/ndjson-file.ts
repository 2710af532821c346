/**
 * @module
 * The spool's files on disk: NDJSON, one JSON value per line, appended to and never edited in place (a compaction
 * writes a new file). A torn line (its writer died mid-write) is skipped when read, writes are synced before they
 * count, and a log that another process appends to is read on from where the last read stopped ({@link NdjsonTail}).
 */
import { open, readFile, stat } from 'node:fs/promises';

/** The value on one line, or `undefined` for a torn line (or anything else that is not JSON). */
export function parseLine<T>(line: Buffer | string): T | undefined {
  try {
    return JSON.parse(line.toString()) as T;
  } catch {
    return undefined; // a torn line
  }
}

/** The non-empty lines of `buffer`, without their `\n`, each with the byte offset it starts at; views, not copies. */
export function* linesOf(buffer: Buffer): Generator<[line: Buffer, offset: number]> {
  let offset = 0;
  while (offset < buffer.length) {
    let end = buffer.indexOf(0x0a, offset);
    if (end < 0) end = buffer.length;
    if (end > offset) yield [buffer.subarray(offset, end), offset];
    offset = end + 1;
  }
}

/** The non-empty lines of `buffer`, without their `\n`; each a view into `buffer`, not a copy. */
export function splitLines(buffer: Buffer): Buffer[] {
  return Array.from(linesOf(buffer), ([line]) => line);
}

/** The non-empty lines of `file`; none when it does not exist or cannot be read. */
export async function readLines(file: string): Promise<Buffer[]> {
  return splitLines(await readFile(file).catch(() => Buffer.alloc(0)));
}

/**
 * Write `data` to `file` in one write, and sync it before resolving. `'append'` adds it at the end (the file is
 * created if missing) and `fdatasync`s; `'replace'` makes it the whole file (created, or truncated first) and
 * `fsync`s.
 */
export async function writeSynced(file: string, data: string | Buffer, mode: 'append' | 'replace'): Promise<void> {
  const handle = await open(file, mode === 'append' ? 'a' : 'w');
  try {
    await handle.write(typeof data === 'string' ? Buffer.from(data) : data);
    await (mode === 'append' ? handle.datasync() : handle.sync());
  } finally {
    await handle.close();
  }
}

/**
 * Reads the lines appended to one file since the last read. Only complete lines count: a line still being written
 * is read the next time. A file that became shorter than what was read (another process emptied it) is read again
 * from its start.
 */
export class NdjsonTail {
  readonly #file: string;
  /** Bytes of the file read so far: where the next read starts. */
  #offset = 0;
  /** Counts {@link rewind}s: a read that was in flight across one leaves the offset alone. */
  #rewinds = 0;

  constructor(file: string) {
    this.#file = file;
  }

  /**
   * The complete, non-empty lines added since the last read; none when the file is missing or unchanged. Reads that
   * overlap may each return the same lines (callers apply them idempotently); none is skipped.
   */
  async readNew(): Promise<Buffer[]> {
    const size = (await stat(this.#file).catch(() => undefined))?.size ?? 0;
    if (size < this.#offset) this.#offset = 0; // emptied (the spool's writer compacted it)
    const start = this.#offset;
    const rewinds = this.#rewinds;
    if (size === start) return [];
    const handle = await open(this.#file, 'r');
    try {
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      const end = buffer.lastIndexOf(0x0a) + 1; // a line still being written is read next time
      // Set from where this read started, not added to: another read may have moved the offset meanwhile.
      if (rewinds === this.#rewinds) this.#offset = Math.max(this.#offset, start + end);
      return splitLines(buffer.subarray(0, end));
    } finally {
      await handle.close();
    }
  }

  /** Read the file from its start next time (it was emptied, or its lines are wanted again). */
  rewind(): void {
    this.#offset = 0;
    this.#rewinds++;
  }
}
