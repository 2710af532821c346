import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Logger } from '../../src/logger.js';
import { loadRouteFiles } from '../../src/router/discovery.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { WorkerManager } from '../../src/worker/worker-manager.js';
import { testConfig } from './app.js';
import type { TestBroker } from './broker.js';

export const POOLS_ROUTERS = fileURLToPath(new URL('../fixtures/apps/pools/routers', import.meta.url));

/** A logger that keeps its JSON lines in memory. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/**
 * A WorkerManager over the pools fixture against a test broker. The workers get `env` on top of process.env,
 * so the config they load matches the parent's.
 */
export async function createTestManager(
  broker: TestBroker,
  env: Record<string, string>,
): Promise<{ manager: WorkerManager; lines: Record<string, unknown>[] }> {
  const fullEnv = { ROUTEMQ_ROUTERS_DIR: POOLS_ROUTERS, LOG_PRETTY: 'false', LOG_LEVEL: 'warn', ...env };
  const config = testConfig(broker, fullEnv);
  // The route file reads POOL_*_COUNT at load time, in this process as in the workers.
  Object.assign(process.env, pick(fullEnv, ['POOL_A_COUNT', 'POOL_B_COUNT']));
  const table = compileRoutes(await loadRouteFiles(POOLS_ROUTERS), { defaultGroup: config.mqtt.groupName });
  const { logger, lines } = memoryLogger();
  const workerEnv = {
    ...process.env,
    ...fullEnv,
    MQTT_BROKER: '127.0.0.1',
    MQTT_PORT: String(broker.port),
    MQTT_CLIENT_ID: config.mqtt.clientIdPrefix,
    MQTT_GROUP_NAME: config.mqtt.groupName,
    ROUTEMQ_INSTANCE_ID: config.routemq.instanceId,
  };
  return { manager: new WorkerManager({ config, table, logger, env: workerEnv }), lines };
}

function pick(env: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]])));
}
