import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** `new Error(`, `throw new Error(`, `Error(` and the other built-in error classes; not `RouteMQError(`. */
const PLAIN_ERROR = /(?<![\w$.])(?:Type|Range|Syntax|Reference|Eval|URI|Aggregate)?Error\(/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `file:line: text` of every line of `src/` that builds a plain error. */
function plainErrors(): string[] {
  return sourceFiles(SRC).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (PLAIN_ERROR.test(line) ? [`src/${relative(SRC, file)}:${i + 1}: ${line.trim()}`] : [])),
  );
}

describe('errors that reach a user', () => {
  it('are never plain Errors: src/ builds every error as a RouteMQError with a code', () => {
    expect(plainErrors()).toEqual([]);
  });

  it('are found by the check: it flags each spelling of a plain error and leaves RouteMQError alone', () => {
    const flagged = [
      "throw new Error('x')",
      'return new Error(`x`)',
      'reject(Error(message))',
      'throw new TypeError(x)',
      'new RangeError(x)',
    ];
    const allowed = [
      'new RouteMQError(ErrorCodes.X, m)',
      'isRouteMQError(err)',
      'this.#onError(err)',
      'classifyError(e)',
    ];
    expect(flagged.filter((line) => !PLAIN_ERROR.test(line))).toEqual([]);
    expect(allowed.filter((line) => PLAIN_ERROR.test(line))).toEqual([]);
  });
});
