/**
 * @module
 * The raw configuration values, each with where it came from, before any validation: the layers (the `.env` file,
 * then the environment, then the overrides; an empty string counts as unset), the `*_FILE` variables read into the
 * variable they stand for, and the TLS files checked to exist as files. Every step reports its problems as
 * {@link Issue}s instead of throwing, so `loadConfig` can report them all together.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { CONFIG_VARIABLES, FILE_VARIANTS } from './schema.js';
import type { ConfigVariable } from './schema.js';

/** Input of `loadConfig`, `loadConfigSubset` and `loadControlSocketPath`: where to read. Every field is optional. */
export interface LoadConfigOptions {
  /** The environment to read. Only the names in `CONFIG_VARIABLES` are looked at. @defaultValue `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The dotenv file, relative to `cwd`; `false` reads none. A file named here must exist.
   * @defaultValue `'<cwd>/.env'`, when it exists
   */
  envFile?: string | false;
  /** The directory relative paths resolve against. @defaultValue `process.cwd()` */
  cwd?: string;
  /** Highest-priority values keyed by env-var name (CLI flags). `undefined` means "not given". @defaultValue `{}` */
  overrides?: Readonly<Record<string, string | number | boolean | undefined>>;
}

/** One problem; `hideReceived` keeps the value out of the message. */
export interface Issue {
  readonly variable: string;
  readonly message: string;
  readonly hideReceived?: boolean;
}

/** A raw value and where it came from (`.env`, the environment, overrides, or a `*_FILE` variable). */
export interface RawValue {
  readonly value: string;
  readonly source: string;
}

/** The variables given, by name, each with its raw value and where it came from. */
export type RawValues = Map<ConfigVariable, RawValue>;

/** The raw values of every layer, lowest first: the env file, the environment, the overrides. */
export function readLayers(options: LoadConfigOptions, cwd: string, issues: Issue[]): RawValues {
  const envFile = options.envFile === false ? undefined : resolve(cwd, options.envFile ?? '.env');
  return mergeLayers([
    [envFile ?? '.env', readEnvFile(envFile, options.envFile !== undefined, issues)],
    ['the environment', options.env ?? process.env],
    ['overrides', checkOverrides(options.overrides ?? {}, issues)],
  ]);
}

function readEnvFile(file: string | undefined, required: boolean, issues: Issue[]): Record<string, string> {
  if (file === undefined) return {};
  try {
    return parseDotenv(readFileSync(file));
  } catch (err) {
    const code = errnoCode(err);
    // The default `.env` is optional; a file the caller named is not.
    if (!required && code === 'ENOENT') return {};
    issues.push({
      variable: 'envFile',
      message: code === 'ENOENT' ? `env file not found: ${file}` : `cannot read env file ${file} (${code})`,
    });
    return {};
  }
}

function checkOverrides(
  overrides: NonNullable<LoadConfigOptions['overrides']>,
  issues: Issue[],
): Record<string, string> {
  const known = new Set<string>(CONFIG_VARIABLES);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!known.has(key)) {
      issues.push({ variable: key, message: 'is not a configuration variable (overrides use env-var names)' });
    } else if (value !== undefined) {
      out[key] = String(value);
    }
  }
  return out;
}

function mergeLayers(layers: [string, Readonly<Record<string, string | undefined>>][]): RawValues {
  const raw: RawValues = new Map();
  for (const [source, values] of layers) {
    for (const name of CONFIG_VARIABLES) {
      const value = values[name];
      if (value !== undefined && value !== '') raw.set(name, { value, source });
    }
  }
  return raw;
}

/**
 * Read each `*_FILE` variable's file into the variable it stands for (one trailing newline dropped). Setting both
 * the variable and its `*_FILE` is an issue, and so is a file that is missing, unreadable or empty.
 */
export function readSecretFiles(raw: RawValues, cwd: string, issues: Issue[]): void {
  for (const [name, fileVariable] of Object.entries(FILE_VARIANTS) as [ConfigVariable, ConfigVariable][]) {
    const file = raw.get(fileVariable);
    if (file === undefined) continue;
    const direct = raw.get(name);
    if (direct !== undefined) {
      const message = `cannot be used while ${name} is also set (from ${direct.source}); set only one`;
      issues.push({ variable: fileVariable, message });
      continue;
    }
    const path = resolve(cwd, file.value);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (err) {
      const code = errnoCode(err);
      const message = code === 'ENOENT' ? `file not found: ${path}` : `cannot read file ${path} (${code})`;
      issues.push({ variable: fileVariable, message, hideReceived: true });
      continue;
    }
    content = content.replace(/\r?\n$/, '');
    if (content === '') issues.push({ variable: fileVariable, message: `file is empty: ${path}`, hideReceived: true });
    else raw.set(name, { value: content, source: fileVariable });
  }
}

/** Check that every TLS file named (`MQTT_TLS_*`, `REDIS_TLS_*`) exists and is a file; an issue if not. */
export function checkTlsFiles(raw: RawValues, cwd: string, issues: Issue[]): void {
  const files = [
    'MQTT_TLS_CA',
    'MQTT_TLS_CERT',
    'MQTT_TLS_KEY',
    'REDIS_TLS_CA',
    'REDIS_TLS_CERT',
    'REDIS_TLS_KEY',
  ] as const;
  for (const name of files) {
    const entry = raw.get(name);
    if (entry === undefined) continue;
    const path = resolve(cwd, entry.value);
    let message: string | undefined;
    try {
      if (!statSync(path).isFile()) message = `not a file: ${path}`;
    } catch (err) {
      const code = errnoCode(err);
      message = code === 'ENOENT' ? `file not found: ${path}` : `cannot read file ${path} (${code})`;
    }
    if (message !== undefined) issues.push({ variable: name, message, hideReceived: true });
  }
}

function errnoCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'unknown error';
}
