import { describe, expect, it } from 'vitest';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import { bindCaptures, compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import { joinPrefix, parsePattern } from '../../src/router/topic-pattern.js';
import { TopicTrie } from '../../src/router/topic-trie.js';

// In MQTT, `/a`, `a` and `a/` are three different topics: a slash at either end, or twice in a row, makes an empty
// level. A pattern subscribes to exactly the filter it denotes.

const noop = (): void => undefined;

function thrown(fn: () => void): RouteMQError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RouteMQError);
    return err as RouteMQError;
  }
  throw new RouteMQError(ErrorCodes.INTERNAL, 'expected a RouteMQError');
}

describe('the pattern compiler keeps every level', () => {
  it.each([
    // pattern, filter, levels, capture names
    ['/devices/{id}/status', '/devices/+/status', ['', 'devices', '{id}', 'status'], ['id']],
    ['a/b/', 'a/b/', ['a', 'b', ''], []],
    ['a//b', 'a//b', ['a', '', 'b'], []],
    ['//a', '//a', ['', '', 'a'], []],
    ['a/{id}//', 'a/+//', ['a', '{id}', '', ''], ['id']],
    ['/', '/', ['', ''], []],
    ['/#', '/#', ['', '#'], [null]],
    ['+/', '+/', ['+', ''], [null]],
  ])('%j is the filter %j', (pattern, filter, levels, captures) => {
    const parsed = parsePattern(pattern);
    expect(parsed.pattern).toBe(pattern);
    expect(parsed.filter).toBe(filter);
    expect(parsed.levels).toHaveLength(levels.length);
    expect(
      parsed.levels.map((l) =>
        l.kind === 'literal' ? l.value : l.kind === 'param' ? `{${l.name}}` : l.kind === 'single' ? '+' : '#',
      ),
    ).toEqual(levels);
    expect(parsed.captureNames).toEqual(captures);
  });

  it("reads '/$share/g/a' as a plain filter whose second level is '$share', not as a shared subscription", () => {
    expect(parsePattern('/$share/g/a').filter).toBe('/$share/g/a');
    expect(thrown(() => parsePattern('$share/g/a')).code).toBe(ErrorCodes.PATTERN_SHARE_PREFIX);
  });

  it('still refuses the empty pattern and what MQTT forbids, whatever the slashes', () => {
    expect(thrown(() => parsePattern('')).code).toBe(ErrorCodes.PATTERN_INVALID);
    expect(thrown(() => new Router().on('', noop)).message).toContain('the pattern is empty');
    expect(thrown(() => parsePattern('/#/')).message).toContain("'#' must be the last level");
    expect(thrown(() => parsePattern('a//b+')).message).toContain('must be a whole level');
  });
});

describe('joining a group prefix and a pattern', () => {
  it.each([
    [undefined, '/a', '/a'],
    ['sensors', 'temp', 'sensors/temp'],
    ['sensors/', 'temp', 'sensors/temp'],
    ['sensors', '/temp', 'sensors/temp'],
    ['/sensors', 'temp/', '/sensors/temp/'],
    ['/sensors/', '{id}/', '/sensors/{id}/'],
    ['a//', 'b', 'a//b'],
    ['a', '//b', 'a//b'],
    ['//a', 'b', '//a/b'],
    ['/', 'a', '/a'],
    ['a', '/', 'a/'],
    ['a/', '#', 'a/#'],
  ])('joins %j and %j as %j', (prefix, pattern, joined) => {
    expect(joinPrefix(prefix, pattern)).toBe(joined);
  });

  it.each([
    [
      'a/',
      '/b',
      "Cannot join group prefix 'a/' and '/b': both have a '/' where they meet, so it could mean 'a/b' or 'a//b'",
    ],
    ['/', '/', "Cannot join group prefix '/' and '/': both have a '/' where they meet"],
    ['a//', '//b', "Cannot join group prefix 'a//' and '//b': both have a '/'"],
    ['', 'a', "Cannot join group prefix '' and 'a': the prefix is empty"],
    ['a', '', "Cannot join group prefix 'a' and '': the pattern is empty"],
  ])('refuses %j and %j with RMQ_ERR_PATTERN_INVALID naming both', (prefix, pattern, message) => {
    const err = thrown(() => joinPrefix(prefix, pattern, { source: 'routers/x.ts' }));
    expect(err.code).toBe(ErrorCodes.PATTERN_INVALID);
    expect(err.message).toContain(message.replace(/:/, ' in routers/x.ts:'));
  });
});

describe('Router.group prefixes', () => {
  it('give routes the joined pattern, nested groups included', () => {
    const router = new Router();
    router.group({ prefix: '/devices' }, (r) => {
      r.on('{id}/status', noop);
      r.on('/{id}/config/', noop);
      r.group({ prefix: 'fleet//' }, (inner) => inner.on('{id}', noop));
      r.group({ middleware: [] }, (inner) => inner.on('ping', noop));
    });
    router.group({ prefix: 'a/' }, (r) => r.on('b', noop));
    expect(router.declarations.map((d) => [d.pattern, d.parsed.filter])).toEqual([
      ['/devices/{id}/status', '/devices/+/status'],
      ['/devices/{id}/config/', '/devices/+/config/'],
      ['/devices/fleet//{id}', '/devices/fleet//+'],
      ['/devices/ping', '/devices/ping'],
      ['a/b', 'a/b'],
    ]);
  });

  it('refuse a join that would be a guess, naming the values and the file', () => {
    const router = new Router();
    router.setSource('routers/devices.ts');
    const onRoute = thrown(() => router.group({ prefix: 'devices/' }, (r) => r.on('/{id}', noop)));
    expect(onRoute.code).toBe(ErrorCodes.PATTERN_INVALID);
    expect(onRoute.message).toContain("Cannot join group prefix 'devices/' and '/{id}' in routers/devices.ts:");
    const nested = thrown(() => router.group({ prefix: 'a/' }, (r) => r.group({ prefix: '/b' }, noop)));
    expect(nested.message).toContain("Cannot join group prefix 'a/' and '/b'");
    const empty = thrown(() => router.group({ prefix: '' }, noop));
    expect(empty.code).toBe(ErrorCodes.PATTERN_INVALID);
    expect(empty.message).toBe(
      'Invalid group prefix "" in routers/devices.ts: it is empty; leave \'prefix\' out for a group without one',
    );
    expect(router.declarations).toEqual([]);
  });
});

describe('matching and subscribing with empty levels', () => {
  const filters = ['/devices/+/status', 'devices/+/status', 'a/b/', 'a/b', 'a//b', '/#'];

  it('the trie tells /a, a and a/ apart', () => {
    const trie = new TopicTrie<string>();
    for (const filter of filters) trie.insert(filter, filter);
    const cases: [topic: string, filter: string | undefined, captures: string[]][] = [
      ['/devices/d1/status', '/devices/+/status', ['d1']],
      ['devices/d1/status', 'devices/+/status', ['d1']],
      ['//d1/status', '/#', ['/d1/status']],
      ['/devices//status', '/devices/+/status', ['']],
      ['a/b/', 'a/b/', []],
      ['a/b', 'a/b', []],
      ['a//b', 'a//b', []],
      ['a/b//', undefined, []],
      ['a', undefined, []],
      ['/', '/#', ['']],
    ];
    for (const [topic, filter, captures] of cases) {
      const found = trie.match(topic);
      expect(found?.filter, topic).toBe(filter);
      if (filter !== undefined) expect(found?.captures, topic).toEqual(captures);
    }
  });

  it('compiled routes subscribe to exactly those filters, shared or not, and bind params from them', () => {
    const router = new Router();
    router.on('/devices/{id}/status', noop);
    router.on('devices/{id}/status', noop);
    router.on('a/b/', noop, { shared: true, group: 'g1' });
    router.group({ prefix: '/fleet/' }, (r) => r.on('{id}//', noop, { shared: true }));
    const table = compileRoutes(router, { defaultGroup: 'g' });
    expect(table.routes.map((r) => [r.filter, r.mqttTopic])).toEqual([
      ['/devices/+/status', '/devices/+/status'],
      ['devices/+/status', 'devices/+/status'],
      ['a/b/', '$share/g1/a/b/'],
      ['/fleet/+//', '$share/g//fleet/+//'],
    ]);
    const leading = table.match('/devices/d1/status');
    expect(leading?.filter).toBe('/devices/+/status');
    const route = leading?.routes[0];
    expect(route && leading && bindCaptures(route, leading.captures).params).toEqual({ id: 'd1' });
    expect(table.match('devices/d1/status')?.filter).toBe('devices/+/status');
    expect(table.match('a/b')).toBeUndefined();
    expect(table.match('/fleet/f1//')?.filter).toBe('/fleet/+//');
    expect(table.match('/fleet/f1/')).toBeUndefined();
  });
});
