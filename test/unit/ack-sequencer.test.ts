import type { IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { AckSequencer } from '../../src/message/ack-sequencer.js';

function packet(messageId: number): IPublishPacket {
  return { cmd: 'publish', messageId, qos: 1, dup: false, retain: false, topic: 't', payload: Buffer.alloc(0) };
}

describe('AckSequencer', () => {
  it('acks in arrival order whatever order the handlers finish in', () => {
    const sent: number[] = [];
    const seq = new AckSequencer((p) => (sent.push(p.messageId ?? -1), true));
    const [a, b, c] = [1, 2, 3].map((id) => seq.push(packet(id), 1));
    seq.settle(c!, true);
    seq.settle(b!, true);
    expect(sent).toEqual([]);
    seq.settle(a!, true);
    expect(sent).toEqual([1, 2, 3]);
  });

  it('skips the ack of a message that must be redelivered, without holding the others', () => {
    const sent: number[] = [];
    const seq = new AckSequencer((p) => (sent.push(p.messageId ?? -1), true));
    const [a, b] = [1, 2].map((id) => seq.push(packet(id), 1));
    seq.settle(a!, false);
    seq.settle(b!, true);
    expect(sent).toEqual([2]);
  });

  it('does not let an unsettled message of an older connection hold back the new one', () => {
    const sent: string[] = [];
    const seq = new AckSequencer((p, epoch) => (sent.push(`${epoch}:${p.messageId}`), true));
    const old = seq.push(packet(1), 1);
    const fresh = seq.push(packet(1), 2);
    seq.settle(fresh, true);
    expect(sent).toEqual(['2:1']);
    seq.settle(old, true);
    expect(sent).toEqual(['2:1']);
    expect(seq.pending).toBe(0);
  });
});
