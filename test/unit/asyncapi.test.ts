import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asyncApiDocument, payloadSchema } from '../../src/asyncapi/asyncapi-document.js';
import type { AsyncApiDocument } from '../../src/asyncapi/asyncapi-document.js';
import { channelAddress } from '../../src/asyncapi/channel-address.js';
import { loadRouteFiles } from '../../src/router/discovery.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import * as v from 'valibot';

const routersDir = new URL('../../routers', import.meta.url).pathname;
const SERVER = { host: 'localhost:1883', protocol: 'mqtt', protocolVersion: '5' };

/** Parse and validate with @asyncapi/parser; the test fails on any diagnostic. */
async function validate(doc: AsyncApiDocument): Promise<void> {
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  expect(diagnostics.filter((d) => (d.severity as number) === (DiagnosticSeverity.Error as number))).toEqual([]);
  expect(document).toBeDefined();
}

describe('channelAddress (MQTT pattern → AsyncAPI address)', () => {
  it('keeps {params}, names each + wildcardN and a trailing # rest', () => {
    expect(channelAddress('sensors/{id}/telemetry')).toEqual({
      address: 'sensors/{id}/telemetry',
      parameters: [{ name: 'id', kind: 'param' }],
    });
    expect(channelAddress('a/+/{x}/+/#')).toEqual({
      address: 'a/{wildcard1}/{x}/{wildcard2}/{rest}',
      parameters: [
        { name: 'wildcard1', kind: 'single-level' },
        { name: 'x', kind: 'param' },
        { name: 'wildcard2', kind: 'single-level' },
        { name: 'rest', kind: 'multi-level' },
      ],
    });
  });

  it('renames a generated parameter that clashes with a named param', () => {
    expect(channelAddress('{rest}/+/#').address).toBe('{rest}/{wildcard1}/{rest_}');
    expect(channelAddress('{wildcard1}/+').address).toBe('{wildcard1}/{wildcard1_}');
  });
});

describe('routemq docs: the AsyncAPI 3 document', () => {
  it('describes the sample routers and validates with @asyncapi/parser: one channel per route, with its schema', async () => {
    const table = compileRoutes(await loadRouteFiles(routersDir), { defaultGroup: 'g' });
    const doc = asyncApiDocument(table.routes, { title: 'sample', version: '1.0.0', server: SERVER });
    await validate(doc);
    expect(Object.keys(doc.channels)).toHaveLength(table.routes.length);
    const telemetry = Object.values(doc.channels).find((c) => c['title'] === 'sensors/{sensorId}/telemetry');
    expect(telemetry).toMatchObject({
      address: 'sensors/{sensorId}/telemetry',
      parameters: { sensorId: expect.any(Object) },
      'x-mqtt-filter': 'sensors/+/telemetry',
      'x-routemq-subscription': '$share/g/sensors/+/telemetry',
      'x-routemq-worker-count': 2,
    });
    const message = Object.values(telemetry?.['messages'] as Record<string, Record<string, unknown>>)[0];
    expect(message?.['payload']).toEqual({
      schemaFormat: 'application/schema+json;version=draft-07',
      schema: expect.objectContaining({
        type: 'object',
        properties: expect.objectContaining({ value: { type: 'number' }, unit: expect.any(Object) }),
        // The input a publisher sends: `unit` has a default, so only `value` is required.
        required: ['value'],
      }),
    });
    const commands = Object.values(doc.channels).find((c) => c['title'] === 'devices/{deviceId}/commands/+');
    expect(commands?.['address']).toBe('devices/{deviceId}/commands/{wildcard1}');
    const ops = Object.values(doc.operations);
    expect(ops).toHaveLength(table.routes.length);
    expect(ops.every((op) => op['action'] === 'receive')).toBe(true);
    expect(ops.map((op) => (op['bindings'] as { mqtt: { qos: number } }).mqtt.qos)).toEqual([1, 1]);
  });

  it('validates with wildcards, #, qos 0/2, no schema, a schema with no JSON Schema, and clashing names', async () => {
    const notZod = v.object({ id: v.string() }); // a Standard Schema validator that is not zod: no JSON Schema
    const router = new Router()
      .on('logs/+/#', () => undefined, { qos: 0 })
      .on('#', () => undefined, { qos: 2, schema: z.object({ at: z.date(), n: z.bigint() }) })
      .on('raw/{id}', () => undefined, { schema: notZod })
      .on('a/b', () => undefined, { name: 'same' })
      .on('a/c', () => undefined, { name: 'same', shared: true });
    const doc = asyncApiDocument(compileRoutes(router, { defaultGroup: 'g' }).routes);
    await validate(doc);
    expect(Object.keys(doc.channels)).toEqual(['logs', 'route', 'raw_id', 'same', 'same_2']);
    expect(doc.channels['logs']?.['address']).toBe('logs/{wildcard1}/{rest}');
    expect(doc.channels['route']?.['address']).toBe('{rest}');
    const raw = Object.values(doc.channels['raw_id']?.['messages'] as Record<string, Record<string, unknown>>)[0];
    expect(raw?.['payload']).toBeUndefined();
    expect(raw?.['description']).toMatch(/no JSON Schema available: the schema is not a zod 4 schema/);
    expect(doc.servers).toBeUndefined();
  });

  it('gives the input JSON Schema of a zod schema, and says why when there is none', () => {
    expect(payloadSchema(z.object({ a: z.string().default('x') }))).toMatchObject({
      ok: true,
      schema: { type: 'object', properties: { a: { type: 'string', default: 'x' } } },
    });
    expect(payloadSchema(undefined)).toEqual({ ok: false, reason: 'the route has no schema' });
  });
});
