import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NdjsonTail } from '../../src/dlq/ndjson-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function logFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'routemq-ndjson-test-'));
  dirs.push(dir);
  return join(dir, 'purged.ndjson');
}

const text = (lines: Buffer[]): string[] => lines.map((l) => l.toString());

describe('NdjsonTail', () => {
  it('reads only the complete lines added since the last read', async () => {
    const file = logFile();
    const tail = new NdjsonTail(file);
    expect(await tail.readNew()).toEqual([]); // no file yet
    writeFileSync(file, '{"id":"a"}\n{"id":"b"}\n{"id":');
    expect(text(await tail.readNew())).toEqual(['{"id":"a"}', '{"id":"b"}']);
    appendFileSync(file, '"c"}\n');
    expect(text(await tail.readNew())).toEqual(['{"id":"c"}']);
    expect(await tail.readNew()).toEqual([]);
  });

  it('reads a file that became shorter (emptied by a compaction) from its start', async () => {
    const file = logFile();
    const tail = new NdjsonTail(file);
    writeFileSync(file, '{"id":"a"}\n{"id":"b"}\n');
    await tail.readNew();
    writeFileSync(file, '{"id":"z"}\n');
    expect(text(await tail.readNew())).toEqual(['{"id":"z"}']);
  });

  it('skips no line after two reads overlap', async () => {
    const file = logFile();
    const tail = new NdjsonTail(file);
    writeFileSync(file, '{"id":"a"}\n');
    // Both start before either has finished: each reads the same line, and the next read starts after it once.
    const [first, second] = await Promise.all([tail.readNew(), tail.readNew()]);
    expect(text(first)).toEqual(['{"id":"a"}']);
    expect(text(second)).toEqual(['{"id":"a"}']);
    // As long as the first line: a read that had moved on twice would start past this one, at the file's end.
    appendFileSync(file, '{"id":"b"}\n');
    expect(text(await tail.readNew())).toEqual(['{"id":"b"}']);
  });
});
