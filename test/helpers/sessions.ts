import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { subscriptionSetTag } from '../../src/consumer/client-ids.js';
import type { Fixture } from './fixture.js';
import { uniqueName } from './mqtt.js';
import type { SpawnedApp } from './spawn-app.js';

export const SESSIONS_ROUTERS = fileURLToPath(new URL('../fixtures/apps/sessions/routers', import.meta.url));

/**
 * A cluster of `routemq start` instances of one app (the sessions fixture) against one broker: every instance
 * shares the client-id prefix, group and app name, and has its own state directory under `dir`.
 */
export function sessionCluster(f: Pick<Fixture, 'broker' | 'dir' | 'spawn'>, common: Record<string, string> = {}) {
  const { broker, dir } = f;
  const base = {
    MQTT_BROKER: '127.0.0.1',
    MQTT_PORT: String(broker.port),
    MQTT_CLIENT_ID: uniqueName('ss'),
    MQTT_GROUP_NAME: uniqueName('g'),
    ROUTEMQ_APP_NAME: uniqueName('app'),
    ROUTEMQ_ROUTERS_DIR: SESSIONS_ROUTERS,
    SEEN_FILE: join(dir, `${uniqueName('seen')}.tsv`),
    ...common,
  };
  return {
    env: base,
    seenFile: base.SEEN_FILE,
    /** The client-id tag of the fixture's v1 pool `sa-any` (`$share/<group>/sa/+`): its slots end `-sa-any-<slot>-<tag>`. */
    saTag: subscriptionSetTag([`$share/${base.MQTT_GROUP_NAME}/sa/+`]),
    /** A separate state directory per instance id, as on separate hosts. */
    stateDir: (id: string): string => join(dir, id),
    /** Start instance `id` and resolve once it serves. */
    async start(id: string, extra: Record<string, string> = {}): Promise<SpawnedApp> {
      const app = f.spawn(['start'], {
        ...base,
        ROUTEMQ_INSTANCE_ID: id,
        ROUTEMQ_STATE_DIR: join(dir, id),
        ...extra,
      });
      await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
      return app;
    },
  };
}

/** Log lines of finished adoptions (one per session drained and ended), from any of the apps. */
export function adoptions(...apps: readonly SpawnedApp[]): Record<string, unknown>[] {
  return apps.flatMap((a) => a.logs()).filter((l) => l['msg'] === 'adopted session drained and ended');
}
