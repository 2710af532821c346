import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// `routemq --help` and `--version` should load almost nothing: the modules bin.ts reaches through static value
// imports (type imports are erased) are commander and the CLI's own light helpers. What a command runs is imported
// inside its action. This guards that without timing anything.

const ROOT = resolve(import.meta.dirname, '../..');
const STATIC_IMPORT = /^import\s+(?!type\s)(?:[^;]*?\sfrom\s+)?'([^']+)';/gms;

/** Every module statically reachable from `entry`: src files relative to the root, packages by name. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    const text = readFileSync(file, 'utf8');
    for (const [, specifier = ''] of text.matchAll(STATIC_IMPORT)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
        const key = relative(ROOT, target);
        if (seen.has(key) || !existsSync(target)) continue;
        seen.add(key);
        visit(target);
      } else {
        seen.add(specifier);
      }
    }
  };
  visit(join(ROOT, entry));
  return seen;
}

describe('the CLI entry point', () => {
  it('statically loads only commander, node built-ins and light CLI helpers', () => {
    const modules = [...reachable('src/cli/bin.ts')].sort();
    const packages = modules.filter((m) => !m.startsWith('src/') && !m.startsWith('node:'));
    expect(packages).toEqual(['commander']);
    const heavy = modules.filter((m) =>
      /^src\/(config|service|runtime|worker|mqtt|redis|message|doctor|dlq)\//.test(m),
    );
    expect(heavy).toEqual([]);
    expect(modules).toContain('src/cli/commands/start.ts');
  });
});
