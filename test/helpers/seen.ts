import { existsSync, readFileSync } from 'node:fs';

/** One line of a fixture's SEEN_FILE. */
export interface Seen {
  readonly route: string;
  readonly pid: number;
  readonly id: string;
  readonly dup: boolean;
  readonly version: string;
}

/** Read the deliveries a fixture recorded. */
export function readSeen(file: string): Seen[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [route = '', pid = '0', id = '', dup = '0', version = ''] = line.split('\t');
      return { route, pid: Number(pid), id, dup: dup === '1', version };
    });
}

/** The checker's three sets: published ids not seen, ids seen more than once, ids seen but never published. */
export function check(
  published: readonly string[],
  seen: readonly Seen[],
): { lost: string[]; duplicated: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
  const publishedSet = new Set(published);
  return {
    lost: published.filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !publishedSet.has(id)),
  };
}
