import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/schema.js';
import { sendControlRequest } from '../control/control-client.js';
import { RedisManager } from '../redis/redis-manager.js';
import { silentLogger } from '../logger.js';
import type { DoctorCheck } from './doctor-check.js';

const CHECK = 'client-id clashes';

/**
 * Is this instance id (and so every client id derived from it) already live? MQTT cannot ask without taking the
 * session over, so the doctor asks what RouteMQ itself publishes: the control socket of an instance on this host,
 * and — with Redis — the heartbeat keys every instance keeps (`<prefix>heartbeat:<instance>:*`, with its host).
 * The same id live on another host is a failure: the two would take each other's sessions over.
 */
export async function checkClientIdClash(config: ResolvedConfig): Promise<DoctorCheck> {
  const instance = config.routemq.instanceId;
  const fix = 'give each host its own ROUTEMQ_INSTANCE_ID (or MQTT_CLIENT_ID prefix)';
  const remote = await liveHosts(config);
  const elsewhere = remote.hosts.filter((h) => h !== hostname());
  if (elsewhere.length > 0) {
    return {
      check: CHECK,
      status: 'fail',
      detail: `instance id '${instance}' is live on ${elsewhere.join(', ')}: its client ids would take each other over`,
      fix,
    };
  }
  if (await localInstanceAnswers(config)) {
    return {
      check: CHECK,
      status: 'warn',
      detail: `an instance with id '${instance}' already runs here (its control socket answers)`,
      fix: 'stop it before starting another one with the same ids, or set another ROUTEMQ_INSTANCE_ID',
    };
  }
  return {
    check: CHECK,
    status: 'pass',
    detail:
      `no live instance uses id '${instance}' here` +
      (remote.checked ? ' nor on other hosts (Redis heartbeats)' : '; other hosts are checked with ENABLE_REDIS'),
  };
}

async function localInstanceAnswers(config: ResolvedConfig): Promise<boolean> {
  const socket = config.routemq.controlSocket;
  if (!socket) return false;
  try {
    await sendControlRequest(socket, { cmd: 'status' }, 2000);
    return true;
  } catch {
    return false;
  }
}

async function liveHosts(config: ResolvedConfig): Promise<{ checked: boolean; hosts: string[] }> {
  if (!config.redis.enabled) return { checked: false, hosts: [] };
  const redis = new RedisManager(config, silentLogger());
  try {
    redis.start();
    const client = (await redis.whenReady(3000)) ? redis.readyClient() : undefined;
    if (!client) return { checked: false, hosts: [] };
    // SCAN, not KEYS: the doctor may run against a busy production Redis.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(
        cursor,
        'MATCH',
        `${redis.key('heartbeat', config.routemq.instanceId)}:*`,
      );
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const values = keys.length === 0 ? [] : await client.mget(keys);
    const hosts = values.flatMap((v) => {
      const host = v === null ? undefined : (JSON.parse(v) as { host?: unknown }).host;
      return typeof host === 'string' ? [host] : [];
    });
    return { checked: true, hosts: [...new Set(hosts)] };
  } finally {
    await redis.stop();
  }
}
