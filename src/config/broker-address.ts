import { isIP } from 'node:net';

/** The broker URL schemes RouteMQ connects with. */
export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/** Each scheme's port when neither the URL nor `MQTT_PORT` gives one; `mqtt`'s is `MQTT_PORT`'s default. */
export const DEFAULT_PORTS: Readonly<Record<BrokerProtocol, number>> = Object.freeze({
  mqtt: 1883,
  mqtts: 8883,
  ws: 80,
  wss: 443,
});

/** `MQTT_BROKER`, taken apart. `port` is `undefined` when the value gives none. */
export interface BrokerAddress {
  readonly protocol: BrokerProtocol;
  /** Host name or IP address; an IPv6 address has no brackets. */
  readonly host: string;
  readonly port: number | undefined;
  /** `''`, or the ws/wss path starting with `/`. */
  readonly path: string;
}

/**
 * The outcome of {@link parseBrokerAddress}. On failure, `hideReceived` means the value must not be shown (it holds
 * credentials).
 */
export type BrokerParseResult =
  { ok: true; address: BrokerAddress } | { ok: false; message: string; hideReceived?: boolean };

const PROTOCOLS: readonly string[] = ['mqtt', 'mqtts', 'ws', 'wss'];
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);
const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;
const AUTHORITY_RE = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/s;
const EXPECTED_BROKER = 'expected a host name or an mqtt://, mqtts://, ws:// or wss:// URL';

/** True for a DNS name (underscores allowed, as in container names) or an IP address. */
export function isHost(value: string): boolean {
  return (value.length <= 253 && HOSTNAME_RE.test(value)) || isIP(value) !== 0;
}

/** Parse a host as written in a URL authority: `name`, `1.2.3.4` or `[::1]`. */
function parseHost(value: string): string | undefined {
  const bracketed = /^\[(.*)\]$/s.exec(value);
  if (bracketed) return isIP(bracketed[1] ?? '') === 6 ? bracketed[1] : undefined;
  return isHost(value) ? value : undefined;
}

/**
 * Take `MQTT_BROKER` apart: a bare host (`broker.local`, `10.0.0.5`, `::1`) means `mqtt://`; a URL may carry a
 * port and, for ws/wss, a path. Credentials, a query and a fragment are refused.
 */
export function parseBrokerAddress(value: string): BrokerParseResult {
  if (value.includes('@')) {
    const message = 'credentials in the URL are not allowed: set MQTT_USERNAME and MQTT_PASSWORD instead';
    return { ok: false, message, hideReceived: true };
  }
  const url = URL_RE.exec(value);
  if (!url) {
    if (isIP(value) === 6) return { ok: true, address: { protocol: 'mqtt', host: value, port: undefined, path: '' } };
    if (/^[^:]+:\d+$/.test(value)) {
      return { ok: false, message: 'a port needs a URL: write mqtt://host:port, or set MQTT_PORT' };
    }
    const host = parseHost(value);
    if (host === undefined) return { ok: false, message: EXPECTED_BROKER };
    return { ok: true, address: { protocol: 'mqtt', host, port: undefined, path: '' } };
  }
  const [, rawScheme = '', authority = '', rest = ''] = url;
  const protocol = rawScheme.toLowerCase();
  if (!isProtocol(protocol)) return { ok: false, message: `unsupported scheme '${protocol}://', ${EXPECTED_BROKER}` };
  const [, rawHost = '', rawPort] = AUTHORITY_RE.exec(authority) ?? [];
  const host = parseHost(rawHost);
  if (host === undefined) return { ok: false, message: `the URL has no valid host, ${EXPECTED_BROKER}` };
  let port: number | undefined;
  if (rawPort !== undefined) {
    port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : 0;
    if (port < 1 || port > 65535) return { ok: false, message: 'the URL port must be an integer in 1..65535' };
  }
  if (/[?#]/.test(rest)) return { ok: false, message: 'the URL must not have a query or a fragment' };
  if (rest !== '' && rest !== '/' && (protocol === 'mqtt' || protocol === 'mqtts')) {
    return { ok: false, message: 'a URL path is only allowed with ws:// and wss://' };
  }
  const path = protocol === 'ws' || protocol === 'wss' ? rest : '';
  return { ok: true, address: { protocol, host, port, path } };
}

function isProtocol(value: string): value is BrokerProtocol {
  return PROTOCOLS.includes(value);
}
