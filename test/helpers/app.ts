import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import { RouteMQApp } from '../../src/runtime/app.js';
import type { TestBroker } from './broker.js';
import { uniqueName } from './mqtt.js';

const STATE_DIR = mkdtempSync(join(tmpdir(), 'routemq-app-state-'));
process.once('exit', () => rmSync(STATE_DIR, { recursive: true, force: true }));

/** A config for an in-process app against a test broker; `env` adds or overrides variables. */
export function testConfig(broker: TestBroker, env: Record<string, string> = {}): ResolvedConfig {
  return loadConfig({
    envFile: false,
    env: {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      MQTT_CLIENT_ID: uniqueName('app'),
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_INSTANCE_ID: 'test',
      // In-process apps keep their dead-letter spool and bundles out of the repo, one directory per test file.
      ROUTEMQ_STATE_DIR: STATE_DIR,
      ...env,
    },
  });
}

/** Build and start an in-process app whose routes `register` declares. The caller stops it. */
export async function startTestApp(
  broker: TestBroker,
  register: (router: Router) => void,
  env: Record<string, string> = {},
): Promise<RouteMQApp> {
  const config = testConfig(broker, env);
  const router = new Router();
  register(router);
  const app = new RouteMQApp({
    config,
    logger: silentLogger(),
    table: compileRoutes(router, { defaultGroup: config.mqtt.groupName }),
  });
  await app.start();
  return app;
}
