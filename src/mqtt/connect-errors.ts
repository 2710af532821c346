import { ErrorCodes, RouteMQError } from '../errors.js';

/** CONNACK codes that mean "your credentials are wrong": v3.1.1 4/5, v5 0x86/0x87. */
const AUTH_CODES = new Set([4, 5, 0x86, 0x87]);
/** CONNACK codes worth a reconnect: server unavailable or busy, rate limited (v3.1.1 3; v5 0x88, 0x89, 0x9f). */
const TRANSIENT_CODES = new Set([3, 0x88, 0x89, 0x9f]);
/** v5 DISCONNECT reason "session taken over": another client connected with our id. */
const SESSION_TAKEN_OVER = 0x8e;

/**
 * Turn an MQTT.js error into a fatal RouteMQError when reconnecting cannot help (the broker refused the
 * credentials or the client), or `undefined` for transport errors that a reconnect may cure.
 */
export function classifyConnectError(err: Error & { code?: string | number }, url: string): RouteMQError | undefined {
  if (typeof err.code !== 'number' || !err.message.startsWith('Connection refused')) return undefined;
  if (AUTH_CODES.has(err.code)) {
    return new RouteMQError(
      ErrorCodes.MQTT_AUTH,
      `The broker at ${url} refused the credentials (${err.message}); check MQTT_USERNAME and MQTT_PASSWORD`,
    );
  }
  if (TRANSIENT_CODES.has(err.code)) return undefined;
  return new RouteMQError(
    ErrorCodes.MQTT_CONNECT_REFUSED,
    `The broker at ${url} refused the connection: ${err.message}`,
  );
}

/** True for the v5 DISCONNECT reason code that means another client took our session over. */
export function isSessionTakenOver(reasonCode: number | undefined): boolean {
  return reasonCode === SESSION_TAKEN_OVER;
}
