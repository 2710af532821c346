import { readFileSync } from 'node:fs';

/**
 * The package's version, from its package.json (two levels up from src/cli/ in a checkout and from dist/cli/ in
 * an installed package).
 */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}
