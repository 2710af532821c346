import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { deadLetterTopicFor } from '../message/dead-letter.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import type { ConnectionOptions } from '../mqtt/connection-options.js';
import type { RouteTable } from '../router/route-table.js';
import type { DoctorCheck } from './doctor-check.js';
import { connectProbeClient } from '../mqtt/probe-client.js';

const WAIT_MS = 2000;

/**
 * One check per dead-letter topic: publish a canary there and read it back. On MQTT 3.1.1 Mosquitto drops a
 * publish its ACL denies and still acks it, so only a read-back shows that the app's dead-letter copies go
 * nowhere (they are still kept in the dead-letter store; this check is about the MQTT copy). A subscriber of the
 * dead-letter topic sees the canary: a JSON body `{"routemqDoctor":"canary"}` with the user property
 * `routemq-doctor: canary`.
 */
export async function checkDeadLetterTopics(
  config: ResolvedConfig,
  table: RouteTable,
  logger: Logger,
): Promise<DoctorCheck[]> {
  const options = connectionOptionsFromConfig(config, 'doctor', logger);
  const topics = [...new Set(table.routes.map((r) => deadLetterTopicFor(r, config.routemq.dlqPrefix)))];
  const checks: DoctorCheck[] = [];
  for (const topic of topics) checks.push(await checkDeadLetterTopic(options, topic));
  return checks;
}

async function checkDeadLetterTopic(options: ConnectionOptions, topic: string): Promise<DoctorCheck> {
  const check = `dead-letter topic ${topic}`;
  const fix =
    `grant this identity read and write on ${topic} (e.g. \`topic readwrite <ROUTEMQ_DLQ_PREFIX>/#\`); until then ` +
    'dead letters are only in the store (routemq dlq ls)';
  let client: MqttClient | undefined;
  try {
    client = await connectProbeClient(options, 'routemq-doctor');
    const nonce = randomUUID();
    let received = false;
    client.on('message', (t, payload) => (received ||= t === topic && payload.toString().includes(nonce)));
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) {
      return { check, status: 'fail', detail: `SUBSCRIBE to ${topic} refused`, fix };
    }
    const v5 = options.client.protocolVersion === 5;
    await client.publishAsync(topic, JSON.stringify({ routemqDoctor: 'canary', nonce }), {
      qos: 1,
      ...(v5 ? { properties: { userProperties: { 'routemq-doctor': 'canary' } } } : {}),
    });
    const deadline = Date.now() + WAIT_MS;
    while (!received && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (received) return { check, status: 'pass', detail: 'a canary published there was read back' };
    return {
      check,
      status: 'fail',
      detail: `a canary published to ${topic} never came back: the broker drops this identity's publishes there (MQTT 3.1.1 ACL denial is silent)`,
      fix,
    };
  } catch (err) {
    return {
      check,
      status: 'fail',
      detail: `the canary on ${topic} was refused: ${err instanceof Error ? err.message : String(err)}`,
      fix,
    };
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}
