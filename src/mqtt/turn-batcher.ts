/** A stream that can batch writes (net.Socket can). */
interface Corkable {
  cork?: () => void;
  uncork?: () => void;
}

/**
 * Batches a stream's writes until the end of the current turn of the event loop: the first write of a turn corks
 * the stream and a `setImmediate` uncorks it, so everything written in between leaves in one syscall.
 *
 * Why acks need it: MQTT.js dispatches one packet per tick, so a TCP read's worth of messages settles over many
 * ticks, and mqtt-packet's own cork (released on the next tick) flushed each ack alone; writev was a quarter of a
 * worker's CPU at QoS1 in a V8 profile. setImmediate runs right after the current I/O callback and its ticks and
 * microtasks, before the loop waits again. Order is unchanged (one stream), and `end()` flushes a corked stream.
 */
export class TurnBatcher {
  #corked: Corkable | undefined;
  readonly #uncork = (): void => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork?.();
  };

  /** Call before writing to `stream`. */
  batch(stream: unknown): void {
    if (this.#corked !== undefined) return;
    const s = stream as Corkable;
    if (typeof s.cork !== 'function' || typeof s.uncork !== 'function') return;
    s.cork();
    this.#corked = s;
    setImmediate(this.#uncork);
  }
}
