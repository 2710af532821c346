import { join } from 'node:path';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { ensureWritableDir } from '../util/state-dir.js';
import type { Logger } from '../logger.js';
import { isPortOpen, startMosquitto } from './mosquitto.js';
import type { MosquittoProcess } from './mosquitto.js';

/** How to get a broker, printed when none is reachable. */
const GET_A_BROKER = [
  'Start one of:',
  '  sudo apt-get install -y mosquitto && mosquitto -d            (Debian/Ubuntu)',
  '  brew install mosquitto && brew services start mosquitto     (macOS)',
  "  docker compose up -d mosquitto                               (this repo's docker-compose.yml)",
  'or point MQTT_BROKER / MQTT_PORT at an existing broker.',
].join('\n');

/**
 * Make sure a broker answers. When `MQTT_BROKER` is unset, `ROUTEMQ_DEV_BROKER=auto` and nothing listens on
 * localhost:<port>, start a local Mosquitto from the repo's config (data in `<ROUTEMQ_STATE_DIR>/mosquitto`) and
 * return it; the caller stops it on exit. Returns `undefined` when a broker is already there or was configured.
 *
 * @throws RouteMQError `RMQ_ERR_BROKER_UNREACHABLE` with the commands to get a broker, when none can be started;
 *   `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when `<ROUTEMQ_STATE_DIR>/mosquitto` cannot be written.
 */
export async function ensureDevBroker(config: ResolvedConfig, logger: Logger): Promise<MosquittoProcess | undefined> {
  const { mqtt } = config;
  if (mqtt.brokerExplicit || config.routemq.devBroker === 'never') return undefined;
  if (await isPortOpen('127.0.0.1', mqtt.port)) return undefined;
  const dir = join(config.routemq.stateDir, 'mosquitto');
  ensureWritableDir(dir, 'the development broker');
  try {
    const broker = await startMosquitto({ port: mqtt.port, dir });
    logger.warn(
      { port: mqtt.port, brokerPid: broker.pid, config: broker.configPath }, // `pid` is the app's (pino's base)
      '*** DEVELOPMENT BROKER: no broker answered on localhost, so RouteMQ started a local Mosquitto. ' +
        'It stops when RouteMQ exits. Set MQTT_BROKER for anything but development. ***',
    );
    return broker;
  } catch (err) {
    throw new RouteMQError(
      ErrorCodes.BROKER_UNREACHABLE,
      `No MQTT broker answers on localhost:${mqtt.port} and no development broker could be started ` +
        `(${err instanceof Error ? err.message : String(err)}).\n${GET_A_BROKER}`,
      { cause: err },
    );
  }
}
