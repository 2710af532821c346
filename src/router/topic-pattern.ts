import { ErrorCodes, RouteMQError } from '../errors.js';

/**
 * One level of a parsed pattern: a literal, a named param (`{name}`), a single-level wildcard (`+`) or the
 * multi-level wildcard (`#`).
 */
export type PatternLevel =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'single' }
  | { readonly kind: 'multi' };

/** A validated pattern and what is derived from it. Frozen. */
export interface ParsedPattern {
  /** The pattern as validated, e.g. `sensors/{id}/telemetry`. */
  readonly pattern: string;
  readonly levels: readonly PatternLevel[];
  /** The MQTT filter: `{name}` levels become `+`, e.g. `sensors/+/telemetry`. */
  readonly filter: string;
  /** A topic-safe name: `{name}` kept, `+` becomes `*`, `#` becomes `**`. */
  readonly name: string;
  /** One entry per wildcard level, in order: the param name for `{name}`, `null` for `+` and `#`. */
  readonly captureNames: readonly (string | null)[];
}

/** Where a pattern comes from, for error messages. */
export interface PatternContext {
  /** The route file that registered the pattern. @defaultValue undefined (not named in messages) */
  source?: string | undefined;
  /** The pattern as the user wrote it, when a group prefix was joined to it. */
  raw?: string | undefined;
}

/** What a `{name}` param name must match. */
export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a share-group or pool name must match. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** MQTT's limit on the UTF-8 length of a topic name or filter. */
const MAX_TOPIC_BYTES = 65_535;

/** ` in <file>` when the file is known, else the empty string. */
export function inSource(source: string | undefined): string {
  return source === undefined ? '' : ` in ${source}`;
}

/**
 * Join a group prefix and a pattern (or an inner prefix) with exactly one `/` between them: the one written at the
 * end of `prefix` or at the start of `pattern`, or else one added. Every other slash is kept as written, so every
 * level, empty ones included, is the user's: `joinPrefix('sensors', 'temp')`, `joinPrefix('sensors/', 'temp')` and
 * `joinPrefix('sensors', '/temp')` are all `sensors/temp`, and `joinPrefix('/sensors', 'temp/')` is `/sensors/temp/`.
 * `prefix` `undefined` means no prefix: `pattern` is returned as it is.
 *
 * @throws RouteMQError `RMQ_ERR_PATTERN_INVALID` naming the value when the join would be a guess: an empty prefix
 *   or pattern (is `''` a level or nothing?), or a slash on both sides (`'a/'` + `'/b'`: `a/b` or `a//b`?).
 */
export function joinPrefix(prefix: string | undefined, pattern: string, context: PatternContext = {}): string {
  if (prefix === undefined) return pattern;
  const refuse = (reason: string): RouteMQError =>
    new RouteMQError(
      ErrorCodes.PATTERN_INVALID,
      `Cannot join group prefix '${prefix}' and '${pattern}'${inSource(context.source)}: ${reason}`,
    );
  if (prefix === '') throw refuse("the prefix is empty; leave 'prefix' out for a group without one");
  if (pattern === '') throw refuse('the pattern is empty');
  const slashAfter = prefix.endsWith('/');
  const slashBefore = pattern.startsWith('/');
  if (slashAfter && slashBefore) {
    throw refuse(
      `both have a '/' where they meet, so it could mean '${prefix}${pattern.slice(1)}' or '${prefix}${pattern}'; ` +
        'write the separating slash on one side only (both slashes on one side for an empty level between them)',
    );
  }
  return slashAfter || slashBefore ? prefix + pattern : `${prefix}/${pattern}`;
}

/**
 * Validate a route pattern and derive its MQTT filter, route name and capture names.
 *
 * @throws RouteMQError `RMQ_ERR_PATTERN_SHARE_PREFIX` when the pattern starts with `$share/` or `$queue/`.
 * Every level is kept as written: a leading, trailing or doubled slash is an empty level, as in MQTT, so
 * `/devices/{id}/status` is the filter `/devices/+/status` (4 levels, the first empty) and `a/b/` is `a/b/`.
 *
 * @throws RouteMQError `RMQ_ERR_PATTERN_INVALID` for an empty pattern, a NUL character, a pattern
 *   longer than 65,535 bytes, a `#` that is not the last level, a wildcard or param that is not a whole level, an
 *   invalid or duplicate param name.
 */
export function parsePattern(pattern: string, context: PatternContext = {}): ParsedPattern {
  const fail = (reason: string, code: typeof ErrorCodes.PATTERN_INVALID | typeof ErrorCodes.PATTERN_SHARE_PREFIX) =>
    new RouteMQError(code, `Invalid topic pattern ${describePattern(pattern, context)}: ${reason}`);
  const invalid = (reason: string) => fail(reason, ErrorCodes.PATTERN_INVALID);

  if (typeof pattern !== 'string') throw invalid(`expected a string, got ${typeof pattern}`);
  if (pattern === '') throw invalid('the pattern is empty');
  if (pattern.includes('\u0000')) throw invalid('it contains a NUL character, which MQTT forbids in topics');
  if (Buffer.byteLength(pattern, 'utf8') > MAX_TOPIC_BYTES) {
    throw invalid(`it is longer than MQTT's limit of ${MAX_TOPIC_BYTES} bytes`);
  }
  const parts = pattern.split('/');
  const first = parts[0];
  if (first === '$share' || first === '$queue') {
    throw fail(
      `do not write '${first}/<group>/' in the pattern; register the route with the option ` +
        `{ shared: true } (and optionally { group: '<name>' }) and RouteMQ subscribes to '$share/<group>/<filter>'`,
      ErrorCodes.PATTERN_SHARE_PREFIX,
    );
  }

  const levels: PatternLevel[] = [];
  const captureNames: (string | null)[] = [];
  const seen = new Set<string>();
  for (const [index, part] of parts.entries()) {
    if (part === '#') {
      if (index !== parts.length - 1) throw invalid("'#' must be the last level");
      levels.push({ kind: 'multi' });
      captureNames.push(null);
    } else if (part === '+') {
      levels.push({ kind: 'single' });
      captureNames.push(null);
    } else if (part.length >= 2 && part.startsWith('{') && part.endsWith('}')) {
      const name = part.slice(1, -1);
      if (name === '') throw invalid(`'{}' has no param name`);
      if (!PARAM_NAME_PATTERN.test(name)) {
        throw invalid(`'${part}': a param name must match ${String(PARAM_NAME_PATTERN)}`);
      }
      if (name === '__proto__') throw invalid(`'${part}': '__proto__' is not allowed as a param name`);
      if (seen.has(name)) throw invalid(`the param name '${name}' is used twice`);
      seen.add(name);
      levels.push({ kind: 'param', name });
      captureNames.push(name);
    } else if (part.includes('#') || part.includes('+')) {
      throw invalid(`'${part}': wildcards ('+', '#') must be a whole level`);
    } else if (part.includes('{') || part.includes('}')) {
      throw invalid(`'${part}': a param ('{name}') must be a whole level`);
    } else {
      levels.push({ kind: 'literal', value: part });
    }
  }

  return Object.freeze({
    pattern,
    levels: Object.freeze(levels),
    filter: levels.map((level) => filterLevel(level)).join('/'),
    name: levels.map((level) => nameLevel(level)).join('/'),
    captureNames: Object.freeze(captureNames),
  });
}

function filterLevel(level: PatternLevel): string {
  switch (level.kind) {
    case 'literal':
      return level.value;
    case 'param':
    case 'single':
      return '+';
    case 'multi':
      return '#';
  }
}

function nameLevel(level: PatternLevel): string {
  switch (level.kind) {
    case 'literal':
      return level.value;
    case 'param':
      return `{${level.name}}`;
    case 'single':
      return '*';
    case 'multi':
      return '**';
  }
}

function describePattern(pattern: unknown, context: PatternContext): string {
  const shown = typeof pattern === 'string' ? `'${pattern}'` : String(pattern);
  const raw = context.raw !== undefined && context.raw !== pattern ? ` (written as '${context.raw}')` : '';
  return `${shown}${raw}${inSource(context.source)}`;
}

/**
 * Why `topic` is not a valid topic name to publish to, or `undefined` when it is: it must be a non-empty string
 * without wildcards (`+`, `#`) or NUL, must not start with `$` (reserved for the broker), and must fit MQTT's
 * 65,535-byte limit.
 */
export function topicNameProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return `expected a string, got ${typeof topic}`;
  if (topic === '') return 'it is empty';
  if (topic.includes('+') || topic.includes('#')) return "a topic name cannot hold the wildcards '+' or '#'";
  if (topic.includes('\u0000')) return 'it contains a NUL character';
  if (topic.startsWith('$')) return "topics starting with '$' are reserved for the broker";
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) return `it is longer than ${MAX_TOPIC_BYTES} bytes`;
  return undefined;
}

/** True when `name` is a valid share-group (or pool) name: `^[A-Za-z0-9_-]{1,64}$`. */
export function isValidGroupName(name: unknown): name is string {
  return typeof name === 'string' && GROUP_NAME_PATTERN.test(name);
}
