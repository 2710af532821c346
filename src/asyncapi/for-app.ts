import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/schema.js';
import type { RouteTable } from '../router/route-table.js';
import { asyncApiDocument } from './asyncapi-document.js';
import type { AsyncApiDocument, AsyncApiServer } from './asyncapi-document.js';

/**
 * The AsyncAPI document of an application: its routes, the configured broker as the server (never credentials:
 * `config.mqtt.url` holds none), and `info` from the `package.json` of `dir` (name, version, description) when
 * there is one, else the app name (`ROUTEMQ_APP_NAME`) and `0.0.0`.
 *
 * @param dir - where to look for `package.json`. @defaultValue `process.cwd()`
 */
export function appAsyncApiDocument(
  config: ResolvedConfig,
  table: RouteTable,
  dir: string = process.cwd(),
): AsyncApiDocument {
  const pkg = readPackage(dir);
  return asyncApiDocument(table.routes, {
    title: pkg.name ?? config.routemq.appName,
    version: pkg.version ?? '0.0.0',
    ...(pkg.description !== undefined && { description: pkg.description }),
    server: brokerServer(config),
  });
}

/** The broker of `config` as an AsyncAPI server. */
export function brokerServer(config: ResolvedConfig): AsyncApiServer {
  const url = new URL(config.mqtt.url);
  return {
    host: url.host,
    protocol: config.mqtt.protocol,
    protocolVersion: config.mqtt.protocolVersion === 5 ? '5' : '3.1.1',
    ...(url.pathname !== '' && url.pathname !== '/' && { pathname: url.pathname }),
  };
}

interface PackageInfo {
  readonly name?: string;
  readonly version?: string;
  readonly description?: string;
}

/** name, version and description of `dir/package.json`; `{}` when it is missing or unreadable. */
function readPackage(dir: string): PackageInfo {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const text = (key: string): string | undefined => (typeof pkg[key] === 'string' ? pkg[key] : undefined);
    return {
      ...(text('name') !== undefined && { name: text('name') }),
      ...(text('version') !== undefined && { version: text('version') }),
      ...(text('description') !== undefined && { description: text('description') }),
    };
  } catch {
    return {};
  }
}
