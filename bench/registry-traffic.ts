// `npx tsx bench/registry-traffic.ts [--seconds 60] [--workers 2] [--instances 2]`: what the session registry costs
// the broker. Runs `routemq start` instances of the sessions fixture against a private Mosquitto, watches
// `<ROUTEMQ_REGISTRY_PREFIX>/#` with one observer, and prints
//   1. the steady state: registry publishes and bytes per minute, per instance and per session, and the deliveries
//      the broker makes of them (each instance reads every record);
//   2. one scale-in: an instance stops for good and its sessions are adopted: the messages that took.
// Numbers, not a pass/fail; docs/sessions.md quotes them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startTestBroker } from '../test/helpers/broker.js';
import { waitUntil } from '../test/helpers/mqtt.js';
import { sessionCluster } from '../test/helpers/sessions.js';
import { spawnRouteMQ } from '../test/helpers/spawn-app.js';
import type { SpawnedApp } from '../test/helpers/spawn-app.js';

const flag = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = flag('--seconds', 60);
const workers = flag('--workers', 2);
const instances = flag('--instances', 2);
const log = (line: string): void => void process.stdout.write(line + '\n');

const broker = await startTestBroker();
const dir = mkdtempSync(join(tmpdir(), 'routemq-registry-traffic-'));
const spawned: SpawnedApp[] = [];
try {
  const cluster = sessionCluster(
    {
      broker,
      dir,
      spawn: (args, env, cwd) => {
        const app = spawnRouteMQ(args, env, cwd);
        spawned.push(app);
        return app;
      },
    },
    { SESS_WORKERS: String(workers), ROUTEMQ_ORPHAN_GRACE_S: '2' },
  );
  const apps = [];
  for (let i = 0; i < instances; i++) apps.push(await cluster.start(`inst-${i}`));
  const sessionsPerInstance = workers + 1; // the worker slots and the main process
  const root = `routemq/registry/${cluster.env.ROUTEMQ_APP_NAME}/${cluster.env.MQTT_GROUP_NAME}`;

  const observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `obs-${process.pid}` });
  const counts = { messages: 0, bytes: 0, byKind: new Map<string, number>() };
  const live = new Map<string, boolean>();
  observer.on('message', (topic, payload, packet) => {
    const kind = topic.slice(root.length + 1).split('/')[0] ?? '?';
    if (kind === 'sessions') live.set(topic, payload.length > 0);
    if (packet.retain) return; // the stored records sent on subscribe, not traffic
    counts.messages += 1;
    counts.bytes += topic.length + payload.length;
    counts.byKind.set(kind, (counts.byKind.get(kind) ?? 0) + 1);
  });
  await observer.subscribeAsync(`${root}/#`, { qos: 1 });
  // Let start-up records settle (the last slots publish theirs after "serving").
  await new Promise((r) => setTimeout(r, 5000));
  counts.messages = 0;
  counts.bytes = 0;
  counts.byKind.clear();

  const started = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const minutes = (Date.now() - started) / 60_000;
  const perMin = counts.messages / minutes;
  const bytesPerMin = counts.bytes / minutes;
  const sessions = instances * sessionsPerInstance;
  log(`steady state: ${instances} instance(s) x ${sessionsPerInstance} sessions, ${seconds} s observed`);
  log(`  publishes/min: ${perMin.toFixed(1)} (${[...counts.byKind].map(([k, n]) => `${k} ${n}`).join(', ')})`);
  log(`  bytes/min (topic + payload): ${bytesPerMin.toFixed(0)}`);
  log(
    `  per instance per minute: ${(perMin / instances).toFixed(2)} publishes, ${(bytesPerMin / instances).toFixed(0)} B`,
  );
  log(
    `  per session per minute: ${(perMin / sessions).toFixed(2)} publishes, ${(bytesPerMin / sessions).toFixed(0)} B`,
  );
  log(
    `  broker deliveries per session per minute (each of ${instances} instances reads every record): ` +
      `${((perMin * instances) / sessions).toFixed(2)}`,
  );

  if (instances >= 2) {
    counts.messages = 0;
    counts.bytes = 0;
    counts.byKind.clear();
    const leaving = apps[0];
    const prefix = `${root}/sessions/${cluster.env.MQTT_CLIENT_ID}-inst-0-`;
    await leaving?.stop();
    await waitUntil(
      () => [...live].every(([topic, present]) => !topic.startsWith(prefix) || !present),
      120_000,
      'the stopped instance adopted',
    );
    log(`scale-in: inst-0 stopped, its ${sessionsPerInstance} sessions adopted`);
    log(
      `  registry publishes: ${counts.messages} (${[...counts.byKind].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
        `${counts.bytes} B, ${(counts.messages / sessionsPerInstance).toFixed(1)} per adopted session ` +
        '(refreshes of the others included)',
    );
  }
  await observer.endAsync();
} finally {
  await Promise.all(spawned.map((app) => app.stop()));
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
}
