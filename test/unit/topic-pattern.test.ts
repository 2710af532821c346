import { describe, it, expect } from 'vitest';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { Router } from '../../src/router/router.js';
import { parsePattern, topicNameProblem } from '../../src/router/topic-pattern.js';

const noop = (): void => undefined;

/** Register `pattern` on a router loading `file`, and return what it threw. */
function registrationError(pattern: string, file = '/app/routers/sensors.ts'): RouteMQError {
  const router = new Router();
  router.setSource(file);
  try {
    router.on(pattern, noop);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteMQError);
    return err as RouteMQError;
  }
  throw new Error(`expected '${pattern}' to be rejected`);
}

describe('parsePattern', () => {
  it('derives the filter, the topic-safe name and the capture names', () => {
    const parsed = parsePattern('sensors/{id}/+/data/#');
    expect(parsed.filter).toBe('sensors/+/+/data/#');
    expect(parsed.name).toBe('sensors/{id}/*/data/**');
    expect(parsed.captureNames).toEqual(['id', null, null]);
    expect(parsed.levels).toEqual([
      { kind: 'literal', value: 'sensors' },
      { kind: 'param', name: 'id' },
      { kind: 'single' },
      { kind: 'literal', value: 'data' },
      { kind: 'multi' },
    ]);
  });

  it('accepts a literal pattern with no wildcards', () => {
    const parsed = parsePattern('$SYS/broker/uptime');
    expect(parsed.filter).toBe('$SYS/broker/uptime');
    expect(parsed.captureNames).toEqual([]);
  });

  it('accepts a lone # and a lone +', () => {
    expect(parsePattern('#').filter).toBe('#');
    expect(parsePattern('+').name).toBe('*');
  });

  it('returns frozen results', () => {
    const parsed = parsePattern('a/{b}');
    expect(Object.isFrozen(parsed)).toBe(true);
    expect(Object.isFrozen(parsed.captureNames)).toBe(true);
  });
});

describe('pattern validation at registration', () => {
  const rejected: [pattern: string, code: ErrorCode, reason: string | RegExp][] = [
    ['a/#/b', ErrorCodes.PATTERN_INVALID, "'#' must be the last level"],
    ['#/a', ErrorCodes.PATTERN_INVALID, "'#' must be the last level"],
    ['a/b#', ErrorCodes.PATTERN_INVALID, 'must be a whole level'],
    ['a+/b', ErrorCodes.PATTERN_INVALID, 'must be a whole level'],
    ['a/++', ErrorCodes.PATTERN_INVALID, 'must be a whole level'],
    ['a{b}/c', ErrorCodes.PATTERN_INVALID, 'must be a whole level'],
    ['a/{b}c', ErrorCodes.PATTERN_INVALID, 'must be a whole level'],
    ['{}', ErrorCodes.PATTERN_INVALID, 'no param name'],
    ['a/{1x}', ErrorCodes.PATTERN_INVALID, 'param name must match'],
    ['a/{x-y}', ErrorCodes.PATTERN_INVALID, 'param name must match'],
    ['a/{__proto__}', ErrorCodes.PATTERN_INVALID, '__proto__'],
    ['a/{x}/b/{x}', ErrorCodes.PATTERN_INVALID, "the param name 'x' is used twice"],
    ['', ErrorCodes.PATTERN_INVALID, 'empty'],
    ['a/\u0000/b', ErrorCodes.PATTERN_INVALID, 'NUL'],
    ['$share/group/a/b', ErrorCodes.PATTERN_SHARE_PREFIX, 'shared: true'],
    ['$queue/a/b', ErrorCodes.PATTERN_SHARE_PREFIX, 'shared: true'],
  ];

  it.each(rejected)('rejects %j with %s', (pattern, code, reason) => {
    const err = registrationError(pattern);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(reason);
  });

  it('names the pattern and the source file in the message', () => {
    const err = registrationError('a/#/b', '/app/routers/alerts.ts');
    expect(err.message).toBe("Invalid topic pattern 'a/#/b' in /app/routers/alerts.ts: '#' must be the last level");
  });

  it('leaves the file out of the message when it is unknown', () => {
    expect(() => parsePattern('a/#/b')).toThrow("Invalid topic pattern 'a/#/b': '#' must be the last level");
  });

  it('names the full pattern and the pattern as written when a group prefix applies', () => {
    const router = new Router();
    let caught: unknown;
    try {
      router.group({ prefix: 'sensors' }, (r) => r.on('x#', noop));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: ErrorCodes.PATTERN_INVALID });
    expect((caught as Error).message).toContain("'sensors/x#' (written as 'x#')");
  });

  it('rejects a pattern that is not a string', () => {
    expect(() => new Router().on(42 as unknown as string, noop)).toThrow(
      expect.objectContaining({ code: ErrorCodes.PATTERN_INVALID }),
    );
  });

  it('rejects a pattern longer than 65,535 bytes', () => {
    expect(registrationError('a/'.repeat(33_000) + 'b').code).toBe(ErrorCodes.PATTERN_INVALID);
  });

  it('accepts $-prefixed patterns other than $share and $queue', () => {
    expect(() => new Router().on('$SYS/broker/#', noop)).not.toThrow();
  });
});

describe('topicNameProblem', () => {
  it('accepts a plain topic name', () => {
    expect(topicNameProblem('dead/letters')).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['a/+', 'wildcards'],
    ['a/#', 'wildcards'],
    ['a\u0000b', 'NUL'],
    ['$SYS/x', 'reserved'],
    [7, 'expected a string'],
  ])('rejects %j', (topic, problem) => {
    expect(topicNameProblem(topic)).toMatch(problem);
  });
});
