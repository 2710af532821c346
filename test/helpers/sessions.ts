import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { subscriptionSetTag } from '../../src/consumer/client-ids.js';
import { parseRecord, registryTopics } from '../../src/sessions/records.js';
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

/** Does the broker still hold a session for this client id? (Asked without leaving one behind.) */
export async function brokerHasSession(url: string, clientId: string): Promise<boolean> {
  // clean: false resumes a session if there is one; expiry 0 ends it (or the empty one made here) at the disconnect.
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 0 },
  });
  const present = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (connack) => resolve(connack.sessionPresent));
    client.once('error', reject);
  });
  await client.endAsync();
  return present;
}

/** What an observer of the session records saw: each record's state in the broker's order, `null` once removed. */
export interface SessionRecordWatch {
  /** The latest state of `clientId`'s record: `live`/`leaving`, `null` when removed, `undefined` when never seen. */
  state(clientId: string): string | null | undefined;
  /** Every state `clientId`'s record went through, in order (`null`: removed). */
  history(clientId: string): (string | null)[];
}

/**
 * Subscribe to the session records of a cluster's app and group (`<prefix>/<app>/<group>/sessions/#`) and keep every
 * change, retained or not. The observer connection is ended after the test.
 */
export async function watchSessionRecords(
  f: Pick<Fixture, 'connect'>,
  env: { readonly ROUTEMQ_APP_NAME: string; readonly MQTT_GROUP_NAME: string },
): Promise<SessionRecordWatch> {
  const topics = registryTopics('routemq/registry', env.ROUTEMQ_APP_NAME, env.MQTT_GROUP_NAME);
  const seen = new Map<string, (string | null)[]>();
  const client = await f.connect();
  client.on('message', (topic, payload) => {
    const named = topics.parse(topic);
    if (named?.kind !== 'sessions') return;
    const record = parseRecord(payload);
    const states = seen.get(named.key) ?? [];
    states.push(record?.kind === 'session' ? record.state : null);
    seen.set(named.key, states);
  });
  await client.subscribeAsync(`${topics.root}/sessions/#`, { qos: 1 });
  return {
    state: (clientId) => seen.get(clientId)?.at(-1),
    history: (clientId) => [...(seen.get(clientId) ?? [])],
  };
}
