import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import { RouteMQApp } from '../../src/runtime/app.js';
import { testConfig } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';

describe('patterns subscribe to exactly the filter they denote, on a real broker', () => {
  const f = useFixture();

  it('delivers /devices/d1/status to /devices/{id}/status and devices/d1/status to devices/{id}/status', async () => {
    const seen: Record<string, string[]> = {};
    const record =
      (route: string) =>
      (ctx: { topic: string; params: Record<string, string> }): void => {
        (seen[route] ??= []).push(`${ctx.topic} id=${ctx.params['id'] ?? ''}`);
      };
    const router = new Router();
    router.on('/devices/{id}/status', record('/devices/{id}/status'));
    router.on('devices/{id}/status', record('devices/{id}/status'));
    // A shared subscription keeps its empty last level too: $share/<group>/fleet/+/
    router.on('fleet/{id}/', record('fleet/{id}/'), { shared: true });
    const config = testConfig(f.broker);
    // `workers: false` serves the shared route on the main connection, so one process holds every subscription.
    const app = new RouteMQApp({
      config,
      logger: silentLogger(),
      table: compileRoutes(router, { defaultGroup: config.mqtt.groupName }),
      workers: false,
    });
    f.defer(() => app.stop());
    await app.start();
    expect(app.table?.routes.map((r) => r.mqttTopic)).toEqual([
      '/devices/+/status',
      'devices/+/status',
      `$share/${config.mqtt.groupName}/fleet/+/`,
    ]);

    // Topics no route denotes go first, each acked by the broker before the next: the broker forwards to this one
    // subscriber in the order it accepted them, so by the time the last expected message is handled, any wrong
    // delivery of the earlier ones would have been handled too.
    const publisher = await f.connect();
    const published = [
      'fleet/f1',
      'fleet/f1//',
      '/fleet/f1/',
      'devices/d1/status/',
      '//devices/d1/status',
      '/devices/d1/status',
      'devices/d1/status',
      'fleet/f1/',
    ];
    for (const topic of published) await publisher.publishAsync(topic, '{}', { qos: 1 });
    const total = (): number => Object.values(seen).reduce((n, list) => n + list.length, 0);
    await waitUntil(() => (seen['fleet/{id}/']?.length ?? 0) >= 1 && total() >= 3, 15_000, 'the three routed topics');

    expect(seen).toEqual({
      '/devices/{id}/status': ['/devices/d1/status id=d1'],
      'devices/{id}/status': ['devices/d1/status id=d1'],
      'fleet/{id}/': ['fleet/f1/ id=f1'],
    });
    expect(app.table?.noMatchCount).toBe(0);
  });
});
