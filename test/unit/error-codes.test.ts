import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, RouteMQError, errorCodeOf, isRouteMQError } from '../../src/errors.js';

describe('error codes', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');

  it('lists every code in docs/errors.md', () => {
    const missing = Object.values(ErrorCodes).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('keeps codes unique and prefixed RMQ_ERR_', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.every((c) => c.startsWith('RMQ_ERR_'))).toBe(true);
  });

  it('gives RouteMQError its code, name and cause', () => {
    const cause = new Error('inner');
    const err = new RouteMQError(ErrorCodes.CONFIG_INVALID, 'bad', { cause });
    expect(err.name).toBe('RouteMQError');
    expect(err.cause).toBe(cause);
    expect(isRouteMQError(err, 'RMQ_ERR_CONFIG_INVALID')).toBe(true);
    expect(errorCodeOf(new Error('plain'))).toBe('RMQ_ERR_HANDLER_FAILED');
  });
});
