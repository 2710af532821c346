import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import { classifyConnectError } from '../mqtt/connect-errors.js';
import { detectBroker } from '../mqtt/broker-identity.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import type { ConnectionOptions } from '../mqtt/connection-options.js';
import type { Logger } from '../logger.js';
import type { RouteTable } from '../router/route-table.js';
import { checkBrokerRestartGap } from './broker-restart-check.js';
import { canaryPublishOptions } from './canary.js';
import { checkClientIdClash } from './clash-check.js';
import { checkDeadLetterTopics } from './dead-letter-check.js';
import type { DoctorCheck } from './doctor-check.js';
import { checkOtherApps } from './other-apps-check.js';
import { checkSessions } from './sessions-check.js';

const PROBES = 20;
const WAIT_MS = 2000;

/**
 * `routemq doctor`: checks, against the configured broker and before any traffic, what silently breaks an MQTT
 * consumer: the connection and credentials, the broker's identity, whether `$share` really balances, and whether
 * this identity can read every route's topic (Mosquitto does not check SUBSCRIBE against the ACL, so a member
 * without read permission eats its share of the messages in silence). Each probe uses its own random client id,
 * and every canary expires within seconds (see {@link canaryPublishOptions}), so none waits in a stopped app's session
 * for its next start.
 * It also lists the registry's sessions that are away or orphaned, the sessions of other apps in the same group on
 * this app's shared filters (their rotation is this app's), and the broker-restart gap of shared routes.
 */
export async function runDoctor(config: ResolvedConfig, table: RouteTable, logger: Logger): Promise<DoctorCheck[]> {
  const options = connectionOptionsFromConfig(config, 'doctor', logger);
  const checks: DoctorCheck[] = [];
  const first = await probe(options).catch((err: unknown) => err);
  if (!(first instanceof mqtt.MqttClient)) {
    const classified = first instanceof Error ? classifyConnectError(first, options.url) : undefined;
    checks.push({
      check: 'connect and authenticate',
      status: 'fail',
      detail: classified?.message ?? `cannot connect to ${options.url}: ${errorText(first)}`,
      fix:
        classified?.code === 'RMQ_ERR_MQTT_AUTH'
          ? 'check MQTT_USERNAME / MQTT_PASSWORD (or *_FILE)'
          : 'check MQTT_BROKER / MQTT_PORT / TLS settings, and that the broker runs',
    });
    return checks;
  }
  await first.endAsync(true);
  checks.push({ check: 'connect and authenticate', status: 'pass', detail: `connected to ${options.url}` });

  const broker = await detectBroker(options);
  checks.push(
    broker.product === 'unknown'
      ? {
          check: 'broker identity',
          status: 'warn',
          detail: '$SYS/broker/version is not readable',
          fix: 'allow this identity to read $SYS, or check the broker by hand',
        }
      : { check: 'broker identity', status: 'pass', detail: broker.version ?? broker.product },
  );
  checks.push(await checkShareBalancing(options));
  for (const route of table.routes) checks.push(await checkReadable(options, route.filter, route.pattern));
  checks.push(...(await checkDeadLetterTopics(config, table, logger)));
  checks.push(await checkClientIdClash(config));
  checks.push(...(await checkSessions(config, options)));
  checks.push(...(await checkOtherApps(config, table, options)));
  checks.push(checkBrokerRestartGap(broker, table));
  checks.push(
    broker.product === 'mosquitto'
      ? {
          check: 'queue limits',
          status: 'warn',
          detail: 'Mosquitto does not publish max_queued_messages; past it, an offline session drops messages',
          fix: 'set max_queued_messages (and max_queued_bytes) for your restart windows, as config/mosquitto.conf does',
        }
      : { check: 'queue limits', status: 'skip', detail: 'not exposed by this broker' },
  );
  return checks;
}

async function checkShareBalancing(options: ConnectionOptions): Promise<DoctorCheck> {
  const id = randomUUID().slice(0, 8);
  const topic = `routemq/doctor/${id}`;
  const members: MqttClient[] = [];
  try {
    const counts = [0, 0];
    for (const i of [0, 1]) {
      const member = await probe(options);
      members.push(member);
      member.on('message', () => (counts[i] = (counts[i] ?? 0) + 1));
      await member.subscribeAsync(`$share/routemq-doctor-${id}/${topic}/+`, { qos: 1 });
    }
    const publisher = members[0] as MqttClient;
    const publish = canaryPublishOptions(options.client.protocolVersion);
    for (let i = 0; i < PROBES; i++) await publisher.publishAsync(`${topic}/${i}`, 'probe', publish);
    await waitFor(() => (counts[0] ?? 0) + (counts[1] ?? 0) >= PROBES, WAIT_MS);
    const [a = 0, b = 0] = counts;
    if (a > 0 && b > 0 && a + b === PROBES) {
      return { check: '$share load balancing', status: 'pass', detail: `${PROBES} probes split ${a}/${b}` };
    }
    return {
      check: '$share load balancing',
      status: 'fail',
      detail: `${PROBES} probes: member 1 got ${a}, member 2 got ${b}`,
      fix: 'the broker does not balance $share subscriptions (or denies them): use Mosquitto ≥ 2 or EMQX',
    };
  } catch (err) {
    return { check: '$share load balancing', status: 'fail', detail: errorText(err), fix: 'check the broker logs' };
  } finally {
    await Promise.all(members.map((m) => m.endAsync(true).catch(() => undefined)));
  }
}

/** Subscribe to a concrete topic the route's filter matches and publish a canary there. */
async function checkReadable(options: ConnectionOptions, filter: string, pattern: string): Promise<DoctorCheck> {
  const topic = filter
    .split('/')
    .map((level) => (level === '+' || level === '#' ? 'routemq-doctor' : level))
    .join('/');
  let client: MqttClient | undefined;
  try {
    client = await probe(options);
    let received = false;
    client.on('message', (t) => (received ||= t === topic));
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) {
      return { check: `read ${pattern}`, status: 'fail', detail: `SUBSCRIBE to ${topic} refused`, fix: 'grant read' };
    }
    await client.publishAsync(topic, '{"routemqDoctor":true}', canaryPublishOptions(options.client.protocolVersion));
    await waitFor(() => received, WAIT_MS);
    if (received) return { check: `read ${pattern}`, status: 'pass', detail: `canary on ${topic} delivered` };
    return {
      check: `read ${pattern}`,
      status: 'fail',
      detail: `a canary published to ${topic} never arrived: no read (or write) permission for this identity`,
      fix: `grant this user read access to ${filter} in the broker's ACL; without it each worker silently eats its share`,
    };
  } catch (err) {
    // On v5 Mosquitto refuses the canary's PUBLISH outright when the ACL covers neither read nor write.
    return {
      check: `read ${pattern}`,
      status: 'fail',
      detail: `the canary on ${topic} was refused: ${errorText(err)}`,
      fix: `grant this user read access to ${filter} in the broker's ACL (the doctor also needs write to test it)`,
    };
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}

function probe(options: ConnectionOptions): Promise<MqttClient> {
  const { properties: _properties, ...base } = options.client;
  return mqtt.connectAsync(options.url, {
    ...base,
    clientId: `routemq-doctor-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.min(options.connectTimeoutMs, 5000),
  });
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
