import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { workerClientId } from '../../src/consumer/client-ids.js';
import { Consumer } from '../../src/consumer/consumer.js';
import { testConfig } from '../helpers/app.js';
import { useFixture } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';

// A deploy that adds a route must not strand what the broker queued for the previous deploy's session. On MQTT v5
// a connection with several subscriptions tags each with a subscription identifier, and every queued copy carries
// the identifier it was queued under; the new deploy must still recognise it (identifiers derive from the topic
// filter, not from registration order).

const f = useFixture();

function consumerFor(router: Router): Consumer {
  const config = testConfig(f.broker, { MQTT_CLIENT_ID: 'deploy-ids', MQTT_SESSION_EXPIRY_S: '300' });
  const table = compileRoutes(router, { defaultGroup: 'g' });
  return new Consumer({ config, table, routes: table.routes, clientId: 'deploy-ids', logger: silentLogger() });
}

describe('subscription identifiers across a deploy', () => {
  it('runs every message queued under the previous deploy, after a route was added before the others', async () => {
    const seen: string[] = [];
    const record = (ctx: { topic: string; payload: unknown }): void => {
      seen.push(`${ctx.topic}:${String((ctx.payload as { n: number }).n)}`);
    };
    const first = consumerFor(new Router().on('a/{x}', record).on('b/{x}', record));
    await first.start();
    await first.stop(); // keeps the session: the broker queues for it

    const publisher = await f.connect({ clientId: 'deploy-ids-pub' });
    const sent: string[] = [];
    for (let n = 0; n < 20; n++) {
      for (const topic of ['a/1', 'b/1']) {
        await publisher.publishAsync(topic, JSON.stringify({ n }), { qos: 1 });
        sent.push(`${topic}:${n}`);
      }
    }
    await publisher.endAsync();

    const second = consumerFor(new Router().on('new/{x}', record).on('a/{x}', record).on('b/{x}', record));
    try {
      await second.start();
      await waitUntil(() => seen.length >= sent.length, 10_000, 'every queued message handled');
      expect([...seen].sort()).toEqual([...sent].sort());
      expect(second.stats().skipped).toBe(0);
    } finally {
      await second.stop({ endSession: true });
    }
  });
  it('a worker whose client id names its one subscription takes it without an identifier; any other id tags', async () => {
    const config = testConfig(f.broker, { MQTT_SESSION_EXPIRY_S: '1' });
    const table = compileRoutes(
      new Router().on('u/{x}', () => undefined, { shared: true }),
      { defaultGroup: 'g' },
    );
    const filters = table.routes.map((r) => r.mqttTopic);
    const identifiers = async (clientId: string): Promise<(number | number[] | undefined)[]> => {
      const seen: (number | number[] | undefined)[] = [];
      const router = new Router().on('u/{x}', (ctx) => void seen.push(ctx.properties?.subscriptionIdentifier), {
        shared: true,
      });
      const own = compileRoutes(router, { defaultGroup: 'g' });
      const consumer = new Consumer({
        config,
        table: own,
        routes: own.routes,
        clientId,
        untagged: true,
        logger: silentLogger(),
      });
      try {
        await consumer.start();
        const publisher = await f.connect();
        for (let n = 0; n < 3; n++) await publisher.publishAsync('u/1', JSON.stringify({ n }), { qos: 1 });
        await publisher.endAsync();
        await waitUntil(() => seen.length >= 3, 10_000, '3 handled');
        return seen;
      } finally {
        await consumer.stop({ endSession: true });
      }
    };
    expect(await identifiers(workerClientId(config, 'u-any', 0, filters))).toEqual([undefined, undefined, undefined]);
    const tagged = table.routes[0]?.subscriptionId;
    expect(await identifiers('not-a-worker-id')).toEqual([tagged, tagged, tagged]);
  });
});
