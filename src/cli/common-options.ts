import type { Command } from 'commander';

/** Options every command that reads the config accepts. Each one overrides an env var. */
export interface CommonFlags {
  readonly envFile?: string;
  readonly routers?: string;
  readonly broker?: string;
  readonly port?: string;
  readonly logLevel?: string;
}

/** Add the shared flags to a command. */
export function addCommonOptions(command: Command): Command {
  return command
    .option('--env-file <path>', 'read this file instead of ./.env')
    .option('--routers <dir>', 'directory of route files (ROUTEMQ_ROUTERS_DIR)')
    .option('--broker <url>', 'broker host or URL (MQTT_BROKER)')
    .option('--port <port>', 'broker port (MQTT_PORT)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (LOG_LEVEL)');
}

/** Map the flags to config overrides keyed by env-var name; unset flags leave the env in charge. */
export function overridesFromFlags(flags: CommonFlags): Record<string, string | undefined> {
  return {
    ROUTEMQ_ROUTERS_DIR: flags.routers,
    MQTT_BROKER: flags.broker,
    MQTT_PORT: flags.port,
    LOG_LEVEL: flags.logLevel,
  };
}
