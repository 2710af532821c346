/** The stream a connection writes MQTT packets to (a net.Socket, a TLS socket, a WebSocket stream). */
export interface PacketStream {
  write(chunk: Buffer): boolean;
  readonly writable: boolean;
  readonly destroyed?: boolean;
}

/** PUBACK fixed header: type 4, flags 0; remaining length 2 (packet id only). */
const PUBACK = 0x40;
const REMAINING_LENGTH = 0x02;
const BYTES_PER_ACK = 4;
/** Room for this many acks in a fresh batch; a busier turn grows it. */
const INITIAL_ACKS = 64;

/**
 * The PUBACKs of one turn of the event loop, encoded into one buffer and written to the socket in one write at the
 * end of the turn (`setImmediate`: after the current I/O callback, its ticks and its microtasks).
 *
 * A PUBACK is 4 bytes: `0x40 0x02` and the packet id. MQTT 5 lets the reason code and properties be left out when
 * the reason is Success (§3.4.2.1), which is what MQTT.js sends when `handleMessage` calls `done()`; MQTT 3.1.1's
 * PUBACK has the same bytes. Writing them ourselves instead of through MQTT.js's packet writer (`_sendPacket` →
 * mqtt-packet) saves, per ack, five `stream.write` calls on a corked socket, a `nextTick` to uncork it, a
 * `packetsend` event and, on v5 without a reason code, two `Buffer.from([0])` and two bytes on the wire
 * (BENCHMARKS.md, finding 18).
 *
 * Order is kept: acks leave in the order they were added, in one write. Nothing writes a packet halfway, so a batch
 * never lands inside another packet. Bytes meant for one stream never reach another: adding for a new stream drops
 * what was pending for the old one (its connection is gone, and the broker redelivers those messages), and so does
 * {@link discard}. {@link flush} writes at once, for a packet that must follow the acks (DISCONNECT, PUBCOMP).
 */
export class PubackBatch {
  #bytes = Buffer.allocUnsafe(INITIAL_ACKS * BYTES_PER_ACK);
  #length = 0;
  #stream: PacketStream | undefined;
  #scheduled = false;
  readonly #onTurnEnd = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Queue the PUBACK of `messageId` (1..65535) for `stream`. */
  add(stream: PacketStream, messageId: number): void {
    if (stream !== this.#stream) {
      this.#length = 0;
      this.#stream = stream;
    }
    let bytes = this.#bytes;
    const at = this.#length;
    if (at + BYTES_PER_ACK > bytes.length) {
      bytes = Buffer.allocUnsafe(bytes.length * 2);
      this.#bytes.copy(bytes, 0, 0, at);
      this.#bytes = bytes;
    }
    bytes[at] = PUBACK;
    bytes[at + 1] = REMAINING_LENGTH;
    bytes[at + 2] = messageId >>> 8;
    bytes[at + 3] = messageId & 0xff;
    this.#length = at + BYTES_PER_ACK;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTurnEnd);
    }
  }

  /** Write the pending acks now, in one write. */
  flush(): void {
    const length = this.#length;
    const stream = this.#stream;
    if (length === 0 || stream === undefined) return;
    const bytes = this.#bytes;
    // The socket may hold on to the written buffer until the kernel takes it: the next batch gets a fresh one.
    this.#bytes = Buffer.allocUnsafe(Math.max(INITIAL_ACKS * BYTES_PER_ACK, length));
    this.#length = 0;
    if (stream.writable && stream.destroyed !== true) stream.write(bytes.subarray(0, length));
  }

  /** Drop the pending acks (the connection closed: the broker redelivers those messages). */
  discard(): void {
    this.#length = 0;
    this.#stream = undefined;
  }

  /** Acks waiting for the end of the turn. */
  get pending(): number {
    return this.#length / BYTES_PER_ACK;
  }
}
