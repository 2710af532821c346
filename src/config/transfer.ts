import type { ResolvedConfig } from './schema.js';
import { Secret } from './secret.js';

/**
 * A resolved config on its way to a worker over IPC: the JSON (where secrets serialise as `[redacted]`) plus the
 * secrets themselves, revealed only inside the private parent↔worker channel (never argv, never logs). Workers
 * then need neither zod nor dotenv (~100 ms and ~6 MB each), and see exactly the parent's configuration.
 */
export interface TransferableConfig {
  readonly json: string;
  readonly secrets: {
    readonly mqttPassword?: string;
    readonly redisPassword?: string;
    readonly healthToken?: string;
  };
}

/** Pack a config for a worker. */
export function toTransferable(config: ResolvedConfig): TransferableConfig {
  return {
    json: JSON.stringify(config),
    secrets: {
      ...(config.mqtt.password ? { mqttPassword: config.mqtt.password.reveal() } : {}),
      ...(config.redis.password ? { redisPassword: config.redis.password.reveal() } : {}),
      ...(config.health.token ? { healthToken: config.health.token.reveal() } : {}),
    },
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** Unpack a config in a worker: secrets back into {@link Secret}s, everything frozen again. */
export function fromTransferable(transfer: TransferableConfig): ResolvedConfig {
  const config = JSON.parse(transfer.json) as Mutable<ResolvedConfig>;
  const { mqttPassword, redisPassword, healthToken } = transfer.secrets;
  config.mqtt.password = mqttPassword === undefined ? undefined : new Secret(mqttPassword);
  config.redis.password = redisPassword === undefined ? undefined : new Secret(redisPassword);
  config.health.token = healthToken === undefined ? undefined : new Secret(healthToken);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !(value instanceof Secret) && !Object.isFrozen(value)) {
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
