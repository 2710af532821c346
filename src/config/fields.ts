import { z } from 'zod';
import { isHost, parseBrokerAddress } from './broker-address.js';
import type { BrokerAddress } from './broker-address.js';
import { Secret } from './secret.js';
import { parseRedisAddress } from './redis-address.js';
import type { RedisAddress } from './redis-address.js';

// The zod field types of the config schema: each turns one raw env string (or undefined) into a typed value,
// with a message that says what was expected.

export const MAX_TIMER_MS = 2_147_483_647; // setTimeout's ceiling: a larger delay fires at once.

/** An integer in [min, max], from plain digits only. */
export function int(min: number, max: number) {
  const expected = `expected an integer in ${min}..${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, expected)
    .transform(Number)
    .pipe(z.number({ error: expected }).int(expected).min(min, expected).max(max, expected))
    .optional();
}

/** true/false, 1/0, yes/no, case-insensitive. */
export const bool = z
  .string()
  .trim()
  .pipe(
    z.stringbool({
      truthy: ['true', '1', 'yes'],
      falsy: ['false', '0', 'no'],
      case: 'insensitive',
      error: 'expected one of true, false, 1, 0, yes, no',
    }),
  )
  .optional();

/** One of a fixed list, case-insensitive. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const expected = `expected one of ${values.join(', ')}`;
  return z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(values, { error: expected }))
    .optional();
}

/** A string matching `re`. */
export function pattern(re: RegExp, expected: string) {
  return z.string().regex(re, `expected ${expected}`).optional();
}

const noNul = (v: string): boolean => !v.includes('\u0000');
/** A file path. */
export const path = z.string().refine(noNul, 'a path must not contain NUL').optional();
/** A secret, held as a {@link Secret}. */
export const secret = z
  .string()
  .transform((v) => new Secret(v))
  .optional();
/** A user name (no NUL, at most 65535 bytes). */
export const userName = z
  .string()
  .refine(noNul, 'a user name must not contain NUL')
  .refine((v) => Buffer.byteLength(v) <= 65535, 'expected at most 65535 bytes')
  .optional();
/** A host name or an IP address. */
export const host = z.string().refine(isHost, 'expected a host name or an IP address').optional();

type AddressResult<T> = { ok: true; address: T } | { ok: false; message: string; hideReceived?: boolean };

/** A field parsed into an address by `parse`, whose message may keep the value out (it may hold a secret). */
function address<T>(parse: (value: string) => AddressResult<T>) {
  return z
    .string()
    .transform((value, ctx): T => {
      const result = parse(value);
      if (result.ok) return result.address;
      ctx.addIssue({ code: 'custom', message: result.message, params: { hideReceived: result.hideReceived === true } });
      return z.NEVER;
    })
    .optional();
}

/** `REDIS_HOST`: a host or a redis/rediss URL. */
export const redisHost = address<RedisAddress>(parseRedisAddress);

/** `MQTT_BROKER`: a host or an mqtt/mqtts/ws/wss URL. */
export const broker = address<BrokerAddress>(parseBrokerAddress);

/** A topic name without wildcards. */
export const topicName = z
  .string()
  .refine((v) => !/[+#]/.test(v), "expected a topic name: '+' and '#' are wildcards")
  .refine(noNul, 'expected a topic name: NUL is not allowed')
  .refine((v) => !v.startsWith('$'), "expected a topic name: a leading '$' is reserved for the broker")
  .refine((v) => !v.endsWith('/'), "expected no trailing '/': RouteMQ adds it")
  .optional();

/**
 * Validates each variable on its own, from the raw strings (`undefined` when unset) to typed values. Defaults are
 * not applied here and cross-variable rules (port conflicts, min ≤ max, TLS) are checked by `loadConfig`, so that
 * one run reports every problem.
 */
