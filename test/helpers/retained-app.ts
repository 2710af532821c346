import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { waitUntil } from './mqtt.js';

/** The retained fixture: main routes `rm/{id}` ('once') and `re/{id}` ('every-start'), shared `rs/{id}`. */
export const RETAINED_ROUTERS = fileURLToPath(new URL('../fixtures/apps/retained/routers', import.meta.url));

/** One message the retained fixture handled. */
export interface Handled {
  readonly route: string;
  readonly pid: number;
  readonly id: string;
  readonly retain: boolean;
  /** RETAINED_RUN of the app that handled it. */
  readonly run: number;
}

/** Read what the fixture recorded in its SEEN_FILE. */
export function readHandled(file: string): Handled[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [route = '', pid = '0', id = '', retain = '0', run = '0'] = line.split('\t');
      return { route, pid: Number(pid), id, retain: retain === '1', run: Number(run) };
    });
}

/**
 * Publish a marker on each route of the fixture and wait until each is handled. A marker published now reaches
 * each connection after whatever the broker had already sent or queued there (the retained copies of its
 * SUBSCRIBE, the session's queue): once it is handled, so is all that. The shared route gets markers until
 * `workers` different processes have handled one. Returns the markers (`route/id`), each expected once.
 */
export async function flushMarkers(
  publisher: MqttClient,
  seenFile: string,
  run: number,
  workers = 2,
): Promise<string[]> {
  const markers: string[] = [];
  const handled = (key: string): boolean => readHandled(seenFile).some((h) => `${h.route}/${h.id}` === key);
  for (const route of ['rm', 're']) {
    markers.push(`${route}/m${run}`);
    await publisher.publishAsync(`${route}/m${run}`, '{}', { qos: 1 });
  }
  const rsPids = (): Set<number> =>
    new Set(
      readHandled(seenFile)
        .filter((h) => h.route === 'rs' && h.run === run && h.id.startsWith(`m${run}-`))
        .map((h) => h.pid),
    );
  for (let k = 0; rsPids().size < workers; k++) {
    if (k >= 20) throw new Error(`20 markers on rs/ reached only ${rsPids().size} of ${workers} workers`);
    const key = `rs/m${run}-${k}`;
    markers.push(key);
    await publisher.publishAsync(key, '{}', { qos: 1 });
    await waitUntil(() => handled(key), 30_000, `marker ${key}`);
  }
  await waitUntil(() => markers.every(handled), 30_000, `the markers of start ${run}`);
  return markers;
}
