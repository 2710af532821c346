import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';

/** Replace what a client id may not hold, and cap the length. */
export function sanitizeInstanceId(name: string, max = 64): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, max);
  return cleaned.length > 0 ? cleaned : 'routemq';
}

/**
 * The default instance id: `<host>-<6 hex of the state directory's path>`. The same process restarted in the same
 * place gets the same id, so it resumes its own sessions; two checkouts (or two apps) on one host get different
 * ids, so they never take each other's sessions over. In a container the host is the container's name (a
 * Kubernetes pod, a compose replica), so replicas differ too.
 */
export function defaultInstanceId(stateDir: string, host = hostname()): string {
  const hash = createHash('sha256').update(stateDir).digest('hex').slice(0, 6);
  return `${sanitizeInstanceId(host, 57)}-${hash}`;
}

/** The default app name: `name` from `<cwd>/package.json` (scope dropped), else the folder's name. */
export function defaultAppName(cwd: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name.length > 0)
      return sanitizeInstanceId(pkg.name.replace(/^@[^/]+\//, ''));
  } catch {
    // no package.json, or not JSON: fall back to the folder name
  }
  return sanitizeInstanceId(basename(cwd));
}
