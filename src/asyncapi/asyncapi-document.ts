import { z } from 'zod';
import type { ZodType } from 'zod';
import { errorMessageOf } from '../errors.js';
import type { RouteDefinition } from '../router/route-table.js';
import { channelAddress } from './channel-address.js';
import type { ChannelParameter } from './channel-address.js';

/** The AsyncAPI version written. */
export const ASYNCAPI_VERSION = '3.0.0';

/**
 * The MQTT bindings' version (github.com/asyncapi/bindings, `mqtt/README.md`: operation `qos`/`retain`, server
 * `clientId`/`cleanSession`/`keepAlive`/`sessionExpiryInterval`).
 */
export const MQTT_BINDING_VERSION = '0.2.0';

/** The JSON Schema dialect of message payloads: what zod's `z.toJSONSchema({ target: 'draft-7' })` writes. */
export const PAYLOAD_SCHEMA_FORMAT = 'application/schema+json;version=draft-07';

/** Options of {@link asyncApiDocument}. */
export interface AsyncApiOptions {
  /** `info.title`. @defaultValue 'RouteMQ application' */
  readonly title?: string;
  /** `info.version`: the application's version, not RouteMQ's. @defaultValue '0.0.0' */
  readonly version?: string;
  readonly description?: string;
  /** The broker, as `servers.broker`; left out when not given. */
  readonly server?: AsyncApiServer;
}

/** The broker the routes subscribe on. */
export interface AsyncApiServer {
  /** `host:port`. */
  readonly host: string;
  /** The URL scheme: `mqtt`, `mqtts`, `ws` or `wss`. */
  readonly protocol: string;
  /** `'5'` or `'3.1.1'`. */
  readonly protocolVersion: string;
  /** The ws/wss path, starting with `/`. */
  readonly pathname?: string;
}

/** An AsyncAPI 3.0.0 document as a plain, JSON-serialisable object. */
export interface AsyncApiDocument {
  readonly asyncapi: typeof ASYNCAPI_VERSION;
  readonly info: { readonly title: string; readonly version: string; readonly description?: string };
  readonly defaultContentType: string;
  readonly servers?: Record<string, unknown>;
  readonly channels: Record<string, Record<string, unknown>>;
  readonly operations: Record<string, Record<string, unknown>>;
}

/** What {@link payloadSchema} found for a route. */
export type PayloadSchemaResult =
  { readonly ok: true; readonly schema: Record<string, unknown> } | { readonly ok: false; readonly reason: string };

/**
 * Describe the routes as an AsyncAPI 3.0.0 document: one channel per route (address per {@link channelAddress},
 * with its parameters), one `receive` operation per route with the MQTT binding's `qos` (the subscription's),
 * and one message per channel whose payload is the route schema's JSON Schema (draft-07, the input a publisher
 * sends: defaults optional). A route without a schema, or with one that has no JSON Schema (not a zod 4 schema,
 * or zod refused to convert it), gets a message without `payload` and says why in its description.
 *
 * Ids: a channel's id is the route's name with every character outside `[A-Za-z0-9_-]` made `_` (`_2`, `_3`… on
 * a clash); its operation is `receive_<channel id>`, its message `<channel id>_message`.
 */
export function asyncApiDocument(routes: readonly RouteDefinition[], options: AsyncApiOptions = {}): AsyncApiDocument {
  const channels: Record<string, Record<string, unknown>> = {};
  const operations: Record<string, Record<string, unknown>> = {};
  const taken = new Set<string>();
  for (const route of routes) {
    const id = uniqueId(route.name, taken);
    const { address, parameters } = channelAddress(route.pattern);
    const messageId = `${id}_message`;
    channels[id] = {
      address,
      title: route.pattern,
      ...(parameters.length > 0 && { parameters: Object.fromEntries(parameters.map((p) => [p.name, parameter(p)])) }),
      messages: { [messageId]: message(route, messageId) },
      'x-mqtt-filter': route.filter,
      'x-routemq-subscription': route.mqttTopic,
      'x-routemq-shared': route.shared,
      ...(route.shared ? { 'x-routemq-worker-count': route.workerCount } : { 'x-routemq-retained': route.retained }),
    };
    operations[`receive_${id}`] = {
      action: 'receive',
      title: `Handle ${route.pattern}`,
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/${messageId}` }],
      bindings: { mqtt: { qos: route.qos, bindingVersion: MQTT_BINDING_VERSION } },
    };
  }
  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: options.title ?? 'RouteMQ application',
      version: options.version ?? '0.0.0',
      ...(options.description !== undefined && { description: options.description }),
    },
    defaultContentType: 'application/json',
    ...(options.server && { servers: { broker: server(options.server) } }),
    channels,
    operations,
  };
}

/**
 * The JSON Schema (draft-07) of what a publisher sends to a route with `schema`: zod 4's `z.toJSONSchema` with
 * `io: 'input'`. Types JSON cannot carry (dates, bigints, functions) become `{}` (any value). Never throws.
 */
export function payloadSchema(schema: unknown): PayloadSchemaResult {
  if (schema === undefined) return { ok: false, reason: 'the route has no schema' };
  if (typeof schema !== 'object' || schema === null || !('_zod' in schema)) {
    return { ok: false, reason: 'no JSON Schema available: the schema is not a zod 4 schema' };
  }
  try {
    const json = z.toJSONSchema(schema as ZodType, {
      target: 'draft-7',
      io: 'input',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    return { ok: true, schema: json };
  } catch (err) {
    return { ok: false, reason: `no JSON Schema available: ${errorMessageOf(err)}` };
  }
}

function message(route: RouteDefinition, messageId: string): Record<string, unknown> {
  const payload = payloadSchema(route.schema);
  const source = route.source === undefined ? '' : ` (declared in ${route.source.split(/[\\/]/).pop() ?? ''})`;
  if (payload.ok) {
    return {
      name: messageId,
      title: `Message of ${route.pattern}`,
      contentType: 'application/json',
      payload: { schemaFormat: PAYLOAD_SCHEMA_FORMAT, schema: payload.schema },
    };
  }
  return {
    name: messageId,
    title: `Message of ${route.pattern}`,
    description:
      `Payload not described: ${payload.reason}${source}. ` +
      'The handler gets parsed JSON when the payload is JSON, else the UTF-8 text, else the bytes.',
  };
}

function parameter(p: ChannelParameter): Record<string, string> {
  switch (p.kind) {
    case 'param':
      return { description: `The topic level the route names {${p.name}} (ctx.params.${p.name}).` };
    case 'single-level':
      return { description: "Any one topic level: the route's MQTT filter has '+' here (in ctx.wildcards)." };
    case 'multi-level':
      return {
        description:
          "The rest of the topic, zero or more levels joined with '/': the route's MQTT filter ends in '#' " +
          '(the last entry of ctx.wildcards). With zero levels the topic ends before this level.',
      };
  }
}

function server(s: AsyncApiServer): Record<string, unknown> {
  return {
    host: s.host,
    protocol: s.protocol,
    protocolVersion: s.protocolVersion,
    ...(s.pathname && { pathname: s.pathname }),
  };
}

function uniqueId(name: string, taken: Set<string>): string {
  const base =
    name
      .replace(/[^A-Za-z0-9_-]/g, '_')
      .replace(/_+/g, '_')
      .replace(/^_|_$/g, '') || 'route';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
  taken.add(id);
  return id;
}
