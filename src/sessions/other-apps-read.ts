/**
 * @module
 * One read of the other apps' session records in this group (see `other-apps.ts`): a short-lived clean probe
 * connection subscribes to `<prefix>/+/<group>/sessions/+` and `<prefix>/+/<group>/instances/+`, takes in the
 * retained records, and stops at the read barrier (a marker published after the SUBACK comes back after every
 * retained record), at `maxRecords`, at `timeoutMs`, or when aborted; then it disconnects. It publishes nothing
 * but the marker, and leaves no session behind.
 */
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { ConnectionOptions } from '../mqtt/connection-options.js';
import { OtherAppsCollector } from './other-apps.js';
import type { OtherAppOverlap } from './other-apps.js';
import { registryTopics } from './records.js';

/** Options of {@link readOtherApps}. */
export interface OtherAppsReadOptions {
  /** The broker's address, credentials and TLS (the probe takes its own random client id and a clean session). */
  readonly connection: ConnectionOptions;
  /** The probe's client id prefix (a random suffix is added). */
  readonly clientIdPrefix: string;
  /** `ROUTEMQ_REGISTRY_PREFIX`. */
  readonly prefix: string;
  /** `MQTT_GROUP_NAME`. */
  readonly group: string;
  /** This app's name (`ROUTEMQ_APP_NAME`): its own records are skipped. */
  readonly app: string;
  /** This app's shared filters (`sharedFilters(table)`); none means nothing to read. */
  readonly filters: readonly string[];
  /** How long the connect, and then the read, may take each, ms. */
  readonly timeoutMs: number;
  /** The instance records' refresh period, ms, for their freshness. */
  readonly refreshMs: number;
  /** @defaultValue 10,000 (`DEFAULT_MAX_OTHER_APP_RECORDS`) */
  readonly maxRecords?: number;
  /** Stops the read early (the result is then incomplete). */
  readonly signal?: AbortSignal;
}

/** What one read found. */
export interface OtherAppsRead {
  readonly overlaps: OtherAppOverlap[];
  /** Records taken in. */
  readonly records: number;
  /**
   * `complete`: the barrier came back, everything retained was read. Else why the read stopped early, with what
   * it had read so far: `limit` (`maxRecords`), `timeout` (the barrier did not come back within `timeoutMs`: no
   * write access to this app's registry, or a broker that dropped what it sent), `aborted`.
   */
  readonly outcome: 'complete' | 'limit' | 'timeout' | 'aborted';
}

/**
 * Read the other apps' records once. Resolves with what was read even when the read stops early.
 *
 * @throws what connecting throws (the broker refused or did not answer within `timeoutMs`), and
 *   `RouteMQError` `RMQ_ERR_REGISTRY_FAILED` when the broker refuses the subscription.
 */
export async function readOtherApps(o: OtherAppsReadOptions): Promise<OtherAppsRead> {
  const collector = new OtherAppsCollector(o.prefix, o.group, o.app, o.filters, o.refreshMs, o.maxRecords);
  if (collector.full || !o.filters.some((f) => f.startsWith('$share/')) || o.signal?.aborted) {
    return { overlaps: [], records: 0, outcome: o.signal?.aborted ? 'aborted' : 'complete' };
  }
  const own = registryTopics(o.prefix, o.app, o.group);
  const marker = `${o.clientIdPrefix}-others-${randomUUID().slice(0, 8)}`;
  const markerTopic = `${own.root}/sync/${marker}`;
  const wanted = [`${o.prefix}/+/${o.group}/sessions/+`, `${o.prefix}/+/${o.group}/instances/+`, markerTopic];
  type Outcome = OtherAppsRead['outcome'];
  let stop: (outcome: Outcome) => void = () => undefined;
  let fail: (err: unknown) => void = () => undefined;
  const done = new Promise<Outcome>((resolve, reject) => {
    stop = resolve;
    fail = reject;
  });
  const onAbort = (): void => stop('aborted');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  // One bound for the connect, then (re-armed once connected) one for the read.
  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const { properties: _properties, ...base } = o.connection.client;
  const client = mqtt.connect(o.connection.url, {
    ...base,
    clientId: `${o.clientIdPrefix}-others-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs,
    log: () => undefined,
  });
  let connected = false;
  client.on('error', (err) => {
    if (!connected) fail(err);
  });
  client.on('close', () =>
    fail(new RouteMQError(ErrorCodes.REGISTRY_FAILED, `the broker at ${o.connection.url} closed the connection`)),
  );
  client.on('message', (topic, payload) => {
    if (topic === markerTopic) stop('complete');
    else if (!collector.take(topic, payload, Date.now())) stop('limit');
  });
  client.once('connect', () => {
    connected = true;
    timer.refresh();
    void (async () => {
      const granted = await client.subscribeAsync(wanted, { qos: 1 });
      const refused = granted.find((g) => g.qos >= 0x80);
      if (refused) {
        throw new RouteMQError(
          ErrorCodes.REGISTRY_FAILED,
          `SUBACK reason code 0x${refused.qos.toString(16)} for ${refused.topic}`,
        );
      }
      // Every retained record was queued for this client before the SUBACK; the marker comes after them.
      await client.publishAsync(markerTopic, '', { qos: 1 });
    })().catch(fail);
  });
  try {
    const outcome = await done;
    return { overlaps: collector.overlaps(Date.now()), records: collector.records, outcome };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await client.endAsync(true).catch(() => undefined);
  }
}
