import { describe, expect, it } from 'vitest';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import * as v from 'valibot';
import { z } from 'zod';
import * as z3 from 'zod/v3';
import { decodePayload as decodeMaybeAsync, exceedsDepth } from '../../src/message/decode-payload.js';
import type { DecodeResult } from '../../src/message/decode-payload.js';

const limits = { maxBytes: 1024, maxDepth: 8 };
const schema = z.object({ v: z.number() });

/** decodePayload for a synchronous schema: the result is never a promise. */
function decodePayload(raw: Buffer, l: typeof limits, s: StandardSchemaV1 | undefined): DecodeResult {
  const result = decodeMaybeAsync(raw, l, s);
  if (result instanceof Promise) throw new TypeError('expected a synchronous result');
  return result;
}

describe('decodePayload', () => {
  it('parses JSON on a route without a schema', () => {
    expect(decodePayload(Buffer.from('{"a":[1,2]}'), limits, undefined)).toEqual({ ok: true, value: { a: [1, 2] } });
  });

  it('hands a non-JSON UTF-8 payload to a schema-less route as a string', () => {
    expect(decodePayload(Buffer.from('on'), limits, undefined)).toEqual({ ok: true, value: 'on' });
    expect(decodePayload(Buffer.from('{not json'), limits, undefined)).toEqual({ ok: true, value: '{not json' });
  });

  it('hands a non-UTF-8 payload to a schema-less route as the raw Buffer', () => {
    const raw = Buffer.from([0xff, 0x00, 0x10]);
    const result = decodePayload(raw, limits, undefined);
    expect(result.ok && result.value).toBe(raw);
  });

  it('tells a genuine U+FFFD apart from an invalid sequence', () => {
    expect(decodePayload(Buffer.from('{"s":"\uFFFD"}'), limits, schema.extend({ s: z.string() }).partial())).toEqual({
      ok: true,
      value: { s: '\uFFFD' },
    });
    const invalid = Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d]); // {"s":"<lone 0xC3>"}
    expect(decodePayload(invalid, limits, undefined)).toEqual({ ok: true, value: invalid });
  });

  it('applies the schema and returns its output', () => {
    expect(decodePayload(Buffer.from('{"v":2,"extra":1}'), limits, schema)).toEqual({ ok: true, value: { v: 2 } });
  });

  it.each([
    ['too large', Buffer.alloc(1025, 0x20), undefined, 'RMQ_ERR_PAYLOAD_TOO_LARGE'],
    ['not UTF-8 with a schema', Buffer.from([0xc3, 0x28]), schema, 'RMQ_ERR_PAYLOAD_NOT_UTF8'],
    ['too deep', Buffer.from('['.repeat(9) + ']'.repeat(9)), undefined, 'RMQ_ERR_PAYLOAD_TOO_DEEP'],
    ['__proto__', Buffer.from('{"__proto__":{"x":1}}'), undefined, 'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY'],
    [
      'constructor.prototype',
      Buffer.from('{"constructor":{"prototype":{"x":1}}}'),
      undefined,
      'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY',
    ],
    [
      '__proto__ written with escapes',
      Buffer.from('{"\\u005f_proto__":{"x":1}}'),
      undefined,
      'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY',
    ],
    [
      'constructor written with escapes',
      Buffer.from('{"\\u0063onstructor":{"prototype":{"x":1}}}'),
      undefined,
      'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY',
    ],
    ['__proto__ after a BOM', Buffer.from('\ufeff{"__proto__":{"x":1}}'), undefined, 'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY'],
    ['not JSON with a schema', Buffer.from('v=1'), schema, 'RMQ_ERR_PAYLOAD_NOT_JSON'],
    ['failing the schema', Buffer.from('{"v":"x"}'), schema, 'RMQ_ERR_PAYLOAD_SCHEMA'],
  ])('refuses a payload %s with its code', (_label, raw, routeSchema, code) => {
    const result = decodePayload(raw, limits, routeSchema);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.code).toBe(code);
  });

  it('reports the first three issues with their paths, worded by the validator', () => {
    const strict = z.object({ a: z.number(), b: z.object({ c: z.string() }), d: z.boolean(), e: z.number() });
    expect(decodePayload(Buffer.from('{"b":{"c":1}}'), limits, strict)).toEqual({
      ok: false,
      code: 'RMQ_ERR_PAYLOAD_SCHEMA',
      message:
        "payload failed the route's schema: a: Invalid input: expected number, received undefined; " +
        'b.c: Invalid input: expected string, received number; d: Invalid input: expected boolean, received undefined',
    });
    expect(decodePayload(Buffer.from('1'), limits, z.string())).toMatchObject({
      message: "payload failed the route's schema: (root): Invalid input: expected string, received number",
    });
  });

  it.each([
    ['zod 3 (zod/v3)', z3.object({ v: z3.number() })],
    ['valibot', v.object({ v: v.number() })],
  ])('accepts any Standard Schema validator: %s', (_label, other) => {
    expect(decodePayload(Buffer.from('{"v":2}'), limits, other)).toEqual({ ok: true, value: { v: 2 } });
    const refused = decodePayload(Buffer.from('{"v":"x"}'), limits, other);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.code).toBe('RMQ_ERR_PAYLOAD_SCHEMA');
    expect(!refused.ok && refused.message).toMatch(/^payload failed the route's schema: v: /);
  });

  it('waits for an asynchronous validator', async () => {
    const slow = z.object({ v: z.number() }).refine(async (p) => Promise.resolve(p.v > 0), 'must be positive');
    const pending = decodeMaybeAsync(Buffer.from('{"v":2}'), limits, slow);
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toEqual({ ok: true, value: { v: 2 } });
    await expect(decodeMaybeAsync(Buffer.from('{"v":-1}'), limits, slow)).resolves.toEqual({
      ok: false,
      code: 'RMQ_ERR_PAYLOAD_SCHEMA',
      message: "payload failed the route's schema: (root): must be positive",
    });
  });

  it('fails the payload when the validator throws or rejects, with a path given as a segment object', async () => {
    const throwing: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => {
          throw new RangeError('boom');
        },
      },
    };
    expect(decodePayload(Buffer.from('{}'), limits, throwing)).toEqual({
      ok: false,
      code: 'RMQ_ERR_PAYLOAD_SCHEMA',
      message: "payload failed the route's schema: the validator threw: boom",
    });
    const rejecting: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'test', validate: () => Promise.reject(new Error('down')) },
    };
    await expect(decodeMaybeAsync(Buffer.from('{}'), limits, rejecting)).resolves.toMatchObject({
      message: "payload failed the route's schema: the validator threw: down",
    });
    const segments: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => ({ issues: [{ message: 'bad', path: [{ key: 'a' }, 0] }] }),
      },
    };
    expect(decodePayload(Buffer.from('{}'), limits, segments)).toMatchObject({
      message: "payload failed the route's schema: a.0: bad",
    });
  });

  it('parses JSON after a BOM, and keeps harmless escapes and keys', () => {
    expect(decodePayload(Buffer.from('\ufeff{"a":1}'), limits, undefined)).toEqual({ ok: true, value: { a: 1 } });
    expect(decodePayload(Buffer.from('{"s":"\\u00e9","constructor":1}'), limits, undefined)).toEqual({
      ok: true,
      value: { s: 'é', constructor: 1 },
    });
  });

  it('does not pollute Object.prototype', () => {
    decodePayload(Buffer.from('{"__proto__":{"polluted":1}}'), limits, undefined);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('exceedsDepth', () => {
  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(exceedsDepth(Buffer.from('{"a":"[[[[[[\\"[[[[[["}'), 2)).toBe(false);
  });

  it('counts objects and arrays alike', () => {
    expect(exceedsDepth(Buffer.from('{"a":[{"b":[1]}]}'), 4)).toBe(false);
    expect(exceedsDepth(Buffer.from('{"a":[{"b":[1]}]}'), 3)).toBe(true);
  });
});
