import { isHost } from './broker-address.js';

/** `REDIS_HOST` taken apart. */
export interface RedisAddress {
  readonly host: string;
  /** From a URL's authority, when it gives one. */
  readonly port: number | undefined;
  /** `rediss://` asks for TLS. */
  readonly tls: boolean;
}

const URL_RE = /^(rediss?):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d{1,5}))?\/?$/i;

/**
 * Take `REDIS_HOST` apart: a bare host (`cache.local`, `10.0.0.5`) or a `redis://` / `rediss://` URL with an
 * optional port (`rediss://cache.local:6380` turns TLS on). Credentials and a database in the URL are refused:
 * `REDIS_USERNAME`, `REDIS_PASSWORD` and `REDIS_DB` say those, so a secret never sits in a host name.
 */
export function parseRedisAddress(
  value: string,
): { ok: true; address: RedisAddress } | { ok: false; message: string; hideReceived?: boolean } {
  if (value.includes('@')) {
    // The value holds a password: it never reaches the error message.
    const message = 'credentials in the URL are not allowed: set REDIS_USERNAME and REDIS_PASSWORD';
    return { ok: false, message, hideReceived: true };
  }
  if (!value.includes('://')) {
    return isHost(value)
      ? { ok: true, address: { host: value, port: undefined, tls: false } }
      : { ok: false, message: 'expected a host name, an IP address, or a redis:// or rediss:// URL' };
  }
  const m = URL_RE.exec(value);
  const host = m?.[2]?.replace(/^\[(.*)\]$/, '$1');
  const port = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || host === undefined || !isHost(host) || (port !== undefined && (port < 1 || port > 65535))) {
    return { ok: false, message: 'expected redis://host[:port] or rediss://host[:port] (set the db with REDIS_DB)' };
  }
  return { ok: true, address: { host, port, tls: m[1]?.toLowerCase() === 'rediss' } };
}
