import { inspect } from 'node:util';

/** What a {@link Secret} prints as, wherever it is printed. */
export const REDACTED = '[redacted]';

/**
 * A string that must never reach a log line, an error message or a serialised config: a password, a token.
 *
 * The value lives in a `#private` field, so `JSON.stringify`, `util.inspect`, template literals, string
 * concatenation and pino all see {@link REDACTED}. Only {@link Secret.reveal} gives the value back; call it at the
 * one place that needs it (the MQTT or Redis client options) and nowhere else.
 *
 * @example
 * ```ts
 * const password = new Secret('hunter2');
 * `${password}`;          // '[redacted]'
 * JSON.stringify({ password }); // '{"password":"[redacted]"}'
 * password.reveal();      // 'hunter2'
 * ```
 */
export class Secret {
  readonly #value: string;

  /**
   * Wrap a secret value.
   *
   * @param value - The secret itself. It is kept as given (no trimming).
   */
  constructor(value: string) {
    this.#value = value;
  }

  /** The secret value. Hand it only to the client that needs it; never log it. */
  reveal(): string {
    return this.#value;
  }

  /** Always {@link REDACTED}. */
  toString(): string {
    return REDACTED;
  }

  /** Always {@link REDACTED}, so `JSON.stringify` (and pino) never see the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** Always {@link REDACTED}: covers template literals and `+` concatenation. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** Always {@link REDACTED}: covers `util.inspect`, console output and the REPL. */
  [inspect.custom](): string {
    return REDACTED;
  }
}
