import { describe, expect, it } from 'vitest';
import {
  mainClientId,
  namesOnlySubscription,
  subscriptionSetTag,
  workerClientId,
} from '../../src/consumer/client-ids.js';
import { testConfig } from '../helpers/app.js';

const config = testConfig({ port: 1 } as never, { MQTT_CLIENT_ID: 'app', ROUTEMQ_INSTANCE_ID: 'i1' });

describe('worker client ids', () => {
  it('name the pool, the slot and the set of subscriptions, in any order', () => {
    const id = workerClientId(config, 'sensors-any', 0, ['$share/g/sensors/+']);
    expect(id).toMatch(/^app-i1-sensors-any-0-[0-9a-f]{8}$/);
    expect(workerClientId(config, 'sensors-any', 0, ['$share/g/sensors/+', '$share/g/sensors/+'])).toBe(id);
    const two = workerClientId(config, 'p', 1, ['$share/g/a/+', '$share/g/b/+']);
    expect(workerClientId(config, 'p', 1, ['$share/g/b/+', '$share/g/a/+'])).toBe(two);
  });

  it('change when what the pool subscribes to changes: a filter, the share group, a route added', () => {
    const id = (filters: string[]): string => workerClientId(config, 'fixed', 0, filters);
    const base = id(['$share/g/a/+']);
    expect(id(['$share/g/a/#'])).not.toBe(base);
    expect(id(['$share/h/a/+'])).not.toBe(base);
    expect(id(['$share/g/a/+', '$share/g/b/+'])).not.toBe(base);
    expect(subscriptionSetTag(['$share/g/a/+'])).toBe(base.slice(-8));
  });

  it('name the only subscription only for a single filter and a worker id made for it', () => {
    const one = ['$share/g/a/+'];
    expect(namesOnlySubscription(workerClientId(config, 'a-any', 0, one), one)).toBe(true);
    expect(namesOnlySubscription(workerClientId(config, 'a-any', 0, ['$share/g/a/#']), one)).toBe(false);
    const two = ['$share/g/a/+', '$share/g/b/+'];
    expect(namesOnlySubscription(workerClientId(config, 'p', 0, two), two)).toBe(false);
    expect(namesOnlySubscription(mainClientId(config), ['a/+'])).toBe(false);
    expect(namesOnlySubscription('app-i1-a-any-0', one)).toBe(false); // an id of an earlier version
  });
});
