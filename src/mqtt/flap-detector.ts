/** A close within this long after CONNACK counts as a flap. */
export const FLAP_WINDOW_MS = 5_000;
/** Consecutive flaps that mean "someone else has our client id". */
export const MAX_FLAPS = 3;

/**
 * What a lost connection means: `stable` (it lived long enough; the flap count and the caller's reconnect backoff
 * start over), `flap` (closed soon after CONNACK; reconnect with backoff), `takeover` ({@link MAX_FLAPS} flaps in a
 * row; give the client id up).
 */
export type CloseVerdict = 'stable' | 'flap' | 'takeover';

/**
 * Tells a session takeover from an unstable network. A connection that the broker closes soon after CONNACK, again
 * and again, is almost always another live client with our client id: each reconnect kicks it, and it kicks us
 * back. Mosquitto 2.0 closes the socket without the v5 DISCONNECT 0x8E that would say so, so count the flaps, and
 * give the slot up instead of fighting (mqttjs/MQTT.js#1585). A connection that lived long enough resets the count
 * and the backoff.
 *
 * Pure: the caller passes the clock (`Date.now()`).
 */
export class FlapDetector {
  #connectedAt = 0;
  #flaps = 0;

  /** Consecutive flaps so far. */
  get flaps(): number {
    return this.#flaps;
  }

  /** A CONNACK arrived at `now` (ms). */
  connected(now: number): void {
    this.#connectedAt = now;
  }

  /** The connection that {@link connected} saw was lost at `now` (ms): classify it. */
  closed(now: number): CloseVerdict {
    if (now - this.#connectedAt >= FLAP_WINDOW_MS) {
      this.#flaps = 0;
      return 'stable';
    }
    return ++this.#flaps >= MAX_FLAPS ? 'takeover' : 'flap';
  }
}
