import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PubackBatch } from '../../src/mqtt/puback-batch.js';

/** A stream that records every write (a copy of the bytes, as the kernel would take them). */
function recordingStream(): { writable: boolean; destroyed: boolean; writes: Buffer[]; write(b: Buffer): boolean } {
  const writes: Buffer[] = [];
  return {
    writable: true,
    destroyed: false,
    writes,
    write(chunk: Buffer) {
      writes.push(chunk);
      return true;
    },
  };
}

/** The packet ids of a run of 4-byte PUBACKs, checking each header. */
function packetIds(bytes: Buffer): number[] {
  expect(bytes.length % 4).toBe(0);
  const ids: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    expect([bytes[i], bytes[i + 1]]).toEqual([0x40, 0x02]);
    ids.push(bytes.readUInt16BE(i + 2));
  }
  return ids;
}

describe('PubackBatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes the acks of one turn in one write, in the order they were added, at the end of the turn', () => {
    const stream = recordingStream();
    const batch = new PubackBatch();
    for (const id of [7, 1, 65535, 256, 300]) batch.add(stream, id);
    expect(stream.writes).toHaveLength(0);
    vi.runAllTimers();
    expect(stream.writes).toHaveLength(1);
    expect(packetIds(stream.writes[0] as Buffer)).toEqual([7, 1, 65535, 256, 300]);
    batch.add(stream, 8);
    vi.runAllTimers();
    expect(stream.writes.map(packetIds)).toEqual([[7, 1, 65535, 256, 300], [8]]);
  });

  it('keeps every ack of a turn larger than its first buffer, and never rewrites bytes already written', () => {
    const stream = recordingStream();
    const batch = new PubackBatch();
    const ids = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (const id of ids) batch.add(stream, id);
    batch.flush();
    const first = Buffer.from(stream.writes[0] as Buffer);
    for (const id of ids) batch.add(stream, 65535 - id);
    vi.runAllTimers();
    expect(packetIds(stream.writes[0] as Buffer)).toEqual(ids);
    expect((stream.writes[0] as Buffer).equals(first)).toBe(true);
    expect(packetIds(stream.writes[1] as Buffer)).toEqual(ids.map((id) => 65535 - id));
  });

  it('flush() writes at once (before a packet that must follow the acks), and the turn end then writes nothing', () => {
    const stream = recordingStream();
    const batch = new PubackBatch();
    batch.add(stream, 1);
    batch.add(stream, 2);
    batch.flush();
    expect(stream.writes.map(packetIds)).toEqual([[1, 2]]);
    vi.runAllTimers();
    expect(stream.writes).toHaveLength(1);
  });

  it('drops the pending acks of a closed connection (discard) and of a replaced stream', () => {
    const old = recordingStream();
    const fresh = recordingStream();
    const batch = new PubackBatch();
    batch.add(old, 1);
    batch.discard();
    batch.add(old, 2);
    batch.add(fresh, 3); // a new connection: the old one's ack 2 must not reach it, nor the old socket
    vi.runAllTimers();
    expect(old.writes).toHaveLength(0);
    expect(fresh.writes.map(packetIds)).toEqual([[3]]);
    expect(batch.pending).toBe(0);
  });

  it('writes nothing to a stream that is no longer writable', () => {
    const stream = recordingStream();
    const batch = new PubackBatch();
    batch.add(stream, 1);
    stream.destroyed = true;
    vi.runAllTimers();
    expect(stream.writes).toHaveLength(0);
  });
});
