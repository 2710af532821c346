import { createHash } from 'node:crypto';
import type { IPublishPacket } from 'mqtt';

/**
 * A received message's identity across deliveries to one session, as a string: the packet id, the payload's size
 * and a digest of its bytes (SHA-1, first 16 base64url characters), and the topic.
 *
 * Mosquitto redelivers an unacked QoS≥1 message to the next connection of the same session with DUP set and
 * the same packet id (MQTT 5 §4.4; eclipse/mosquitto `src/database.c`, `db__message_reconnect_reset_outgoing`
 * puts in-flight messages back to be sent again, keeping their ids), so the packet id names the message within a
 * session. Packet ids are reused once a message is acked, so the payload digest and topic are
 * part of the key: two different messages share a key only with the same packet id, topic and payload bytes.
 * Costs one hash of the payload: call it off the hot path (redelivered messages, heartbeats).
 */
export function messageKey(packet: Pick<IPublishPacket, 'messageId' | 'payload' | 'topic'>): string {
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const digest = createHash('sha1').update(payload).digest('base64url').slice(0, 16);
  return `${packet.messageId ?? 0} ${payload.length} ${digest} ${packet.topic}`;
}
