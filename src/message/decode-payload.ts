import { isUtf8 } from 'node:buffer';
import sjson from 'secure-json-parse';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCodes } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** Limits applied to every payload before any parse. */
export interface PayloadLimits {
  /** Larger payloads are dead-lettered with `RMQ_ERR_PAYLOAD_TOO_LARGE`. */
  readonly maxBytes: number;
  /** Deeper JSON is dead-lettered with `RMQ_ERR_PAYLOAD_TOO_DEEP`. */
  readonly maxDepth: number;
}

/** The outcome of {@link decodePayload}. A failure is final: retrying cannot fix the bytes. */
export type DecodeResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Decode a payload for one route, in the order DELIVERY.md gives: size cap, UTF-8 check, nesting-depth scan,
 * JSON parse with `__proto__`/`constructor.prototype` refused (secure-json-parse), then the route's schema (any
 * [Standard Schema](https://standardschema.dev) validator: zod 3.24+ and 4, valibot, arktype…).
 *
 * Without a schema the payload is lenient: JSON when it parses, else the UTF-8 string, else the raw Buffer. The
 * size, depth and forbidden-key checks still apply, because they guard the process, not the format.
 * With a schema the payload must be UTF-8 JSON that the schema accepts.
 *
 * @returns the result, or a promise of it when the schema validates asynchronously (a Standard Schema `validate`
 *   may return a promise; zod does for a schema with async refinements). The promise never rejects: a validator
 *   that throws or rejects fails the payload with `RMQ_ERR_PAYLOAD_SCHEMA`.
 */
export function decodePayload(
  raw: Buffer,
  limits: PayloadLimits,
  schema: StandardSchemaV1 | undefined,
): DecodeResult | Promise<DecodeResult> {
  if (raw.length > limits.maxBytes) {
    return fail(ErrorCodes.PAYLOAD_TOO_LARGE, `payload is ${raw.length} bytes; the limit is ${limits.maxBytes}`);
  }
  // Decoding never throws: an invalid sequence becomes U+FFFD. So only text holding U+FFFD needs the exact check
  // (it may also be a genuine, validly encoded U+FFFD); the common case skips a call into C++ per message.
  const text = raw.toString(); // no arguments: Node's fast path straight to utf8Slice
  if (text.includes('\uFFFD') && !isUtf8(raw)) {
    return schema ? fail(ErrorCodes.PAYLOAD_NOT_UTF8, 'payload is not valid UTF-8') : { ok: true, value: raw };
  }
  // Every level takes at least one byte, so a payload no longer than the limit cannot exceed it.
  if (raw.length > limits.maxDepth && exceedsDepth(raw, limits.maxDepth)) {
    return fail(ErrorCodes.PAYLOAD_TOO_DEEP, `payload nests deeper than ${limits.maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    return notJson(err, text, schema);
  }
  return schema ? applySchema(value, schema) : { ok: true, value };
}

// The rare outcomes live in functions of their own, so the per-message path above stays small (less for V8 to
// interpret and to optimise in a worker's first seconds).

function notJson(err: unknown, text: string, schema: StandardSchemaV1 | undefined): DecodeResult {
  if (err instanceof SyntaxError && err.message.includes('forbidden prototype property')) {
    return fail(ErrorCodes.PAYLOAD_FORBIDDEN_KEY, 'payload holds a __proto__ or constructor.prototype key');
  }
  if (schema) return fail(ErrorCodes.PAYLOAD_NOT_JSON, 'payload is not valid JSON');
  return { ok: true, value: text };
}

function applySchema(value: unknown, schema: StandardSchemaV1): DecodeResult | Promise<DecodeResult> {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(value);
  } catch (err) {
    return validatorFailed(err);
  }
  return result instanceof Promise ? result.then(fromResult, validatorFailed) : fromResult(result);
}

function fromResult(result: StandardSchemaV1.Result<unknown>): DecodeResult {
  if (!result.issues) return { ok: true, value: result.value };
  // The first issues with their paths, as the validator words them (zod's messages reach the dead letter as they are).
  const issues = result.issues
    .slice(0, 3)
    .map(
      (issue) =>
        `${issue.path && issue.path.length > 0 ? issue.path.map(pathKey).join('.') : '(root)'}: ${issue.message}`,
    )
    .join('; ');
  return fail(ErrorCodes.PAYLOAD_SCHEMA, `payload failed the route's schema: ${issues}`);
}

function pathKey(segment: PropertyKey | StandardSchemaV1.PathSegment): string {
  return String(typeof segment === 'object' ? segment.key : segment);
}

/** A validator that throws (or rejects) has no issues to report; retrying cannot change its verdict. */
function validatorFailed(err: unknown): DecodeResult {
  const reason = err instanceof Error ? err.message : String(err);
  return fail(ErrorCodes.PAYLOAD_SCHEMA, `payload failed the route's schema: the validator threw: ${reason}`);
}

const SJSON_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/** `JSON.parse`, refusing forbidden keys (see {@link mayHoldForbiddenKey}). Throws a SyntaxError. */
function parseJson(text: string): unknown {
  if (mayHoldForbiddenKey(text)) return sjson.parse(text, undefined, SJSON_OPTIONS);
  // Text that opens an object or array is almost always JSON: parse it as it is. Anything else (a lenient route's
  // `on`, `21.5 C`…) is parsed without a stack trace, since it usually fails: capturing one made the failed parse
  // several times slower (secure-json-parse does the same). Saving and restoring the limit costs four property
  // accesses on `Error` per message, so the common case skips it.
  const first = text.charCodeAt(0);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) return JSON.parse(text);
  const { stackTraceLimit } = Error;
  Error.stackTraceLimit = 0;
  try {
    return JSON.parse(text);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * What {@link mayHoldForbiddenKey} looks for, in one scan: one regular expression (V8 compiles it to native code)
 * instead of three `includes`, each a call and a scan (callgrind: -1.1% instructions per message on the cold
 * dispatch path).
 */
const FORBIDDEN_KEY_HINT = /__proto__|constructor|\\u/;

/**
 * Whether secure-json-parse has anything to look at. It refuses `"__proto__":` and `"constructor":` keys, any of
 * whose letters may be written as a `\uXXXX` escape, and it strips a leading BOM. Text with none of `__proto__`,
 * `constructor`, `\u` or a BOM parses the same with plain `JSON.parse`, which skips its two regular expressions
 * and its `Error.stackTraceLimit` juggling (together about as costly as the parse itself for small payloads).
 */
function mayHoldForbiddenKey(text: string): boolean {
  return text.charCodeAt(0) === 0xfeff || FORBIDDEN_KEY_HINT.test(text);
}

function fail(code: ErrorCode, message: string): DecodeResult {
  return { ok: false, code, message };
}

/**
 * One pass over the bytes counting `{`/`[` nesting outside strings. `JSON.parse` has no depth limit and
 * recurses, so a deep payload could blow the stack; this scan is O(n) and allocates nothing.
 */
export function exceedsDepth(raw: Buffer, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
