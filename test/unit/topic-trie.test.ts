import { describe, it, expect } from 'vitest';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { TopicTrie } from '../../src/router/topic-trie.js';

interface MatchCase {
  readonly topic: string;
  /** The winning filter, or undefined when nothing may match. */
  readonly filter: string | undefined;
  readonly captures?: readonly string[];
}

interface MatchTable {
  readonly title: string;
  readonly filters: readonly string[];
  readonly cases: readonly MatchCase[];
}

/** One table, run against the trie and against compiled routes, in both registration orders. */
const TABLES: readonly MatchTable[] = [
  {
    title: 'literal beats + beats #, level by level',
    filters: ['a/b/c', 'a/+/c', 'a/#', '#', '+/b/+', 'a/b/d'],
    cases: [
      { topic: 'a/b/c', filter: 'a/b/c', captures: [] },
      { topic: 'a/x/c', filter: 'a/+/c', captures: ['x'] },
      { topic: 'a/b/d', filter: 'a/b/d', captures: [] },
      { topic: 'a/b/e', filter: 'a/#', captures: ['b/e'] },
      { topic: 'x/b/y', filter: '+/b/+', captures: ['x', 'y'] },
      { topic: 'x/y', filter: '#', captures: ['x/y'] },
      { topic: 'a/b', filter: 'a/#', captures: ['b'] },
      { topic: 'a/b/c/d', filter: 'a/#', captures: ['b/c/d'] },
    ],
  },
  {
    title: 'backtracking out of a dead-end literal branch',
    filters: ['a/+/c', 'a/b/d', 'a/b/+/d', 'a/+/c/e'],
    cases: [
      { topic: 'a/b/c', filter: 'a/+/c', captures: ['b'] },
      { topic: 'a/b/d', filter: 'a/b/d', captures: [] },
      { topic: 'a/b/c/e', filter: 'a/+/c/e', captures: ['b'] },
      { topic: 'a/b/x/d', filter: 'a/b/+/d', captures: ['x'] },
      { topic: 'a/b/x/e', filter: undefined },
    ],
  },
  {
    title: '+ beats # at the same level',
    filters: ['a/#', 'a/+'],
    cases: [
      { topic: 'a/b', filter: 'a/+', captures: ['b'] },
      { topic: 'a/b/c', filter: 'a/#', captures: ['b/c'] },
    ],
  },
  {
    title: '# also matches its parent level (zero levels)',
    filters: ['a/#', 'x/y', 'x/y/#'],
    cases: [
      { topic: 'a', filter: 'a/#', captures: [''] },
      { topic: 'x/y', filter: 'x/y', captures: [] },
      { topic: 'x/y/z', filter: 'x/y/#', captures: ['z'] },
      { topic: 'x', filter: undefined },
      { topic: 'b', filter: undefined },
    ],
  },
  {
    title: "topics starting with '$' never match a first-level wildcard",
    filters: ['#', '+/x', '+/+'],
    cases: [
      { topic: '$SYS/x', filter: undefined },
      { topic: '$SYS', filter: undefined },
      { topic: 'a/x', filter: '+/x', captures: ['a'] },
      { topic: 'a/$x', filter: '+/+', captures: ['a', '$x'] },
      { topic: 'q', filter: '#', captures: ['q'] },
    ],
  },
  {
    title: "a literal '$' first level matches",
    filters: ['#', '+/x', '$SYS/#', '$SYS/broker/+'],
    cases: [
      { topic: '$SYS/x', filter: '$SYS/#', captures: ['x'] },
      { topic: '$SYS', filter: '$SYS/#', captures: [''] },
      { topic: '$SYS/broker/uptime', filter: '$SYS/broker/+', captures: ['uptime'] },
      { topic: '$other/x', filter: undefined },
    ],
  },
  {
    title: 'empty levels are levels',
    filters: ['a/+/c', 'a/+'],
    cases: [
      { topic: 'a//c', filter: 'a/+/c', captures: [''] },
      { topic: 'a/', filter: 'a/+', captures: [''] },
      { topic: '', filter: undefined },
    ],
  },
  {
    title: 'empty first and last levels, under + and #',
    filters: ['+/x', 'b/#', 'c/+/#'],
    cases: [
      { topic: '/x', filter: '+/x', captures: [''] },
      { topic: 'b/', filter: 'b/#', captures: [''] },
      { topic: 'b//', filter: 'b/#', captures: ['/'] },
      { topic: 'c//', filter: 'c/+/#', captures: ['', ''] },
      { topic: 'c/y', filter: 'c/+/#', captures: ['y', ''] },
      { topic: '/', filter: undefined },
    ],
  },
];

describe.each(TABLES)('matching: $title', ({ filters, cases }) => {
  for (const order of ['registration order', 'reverse order'] as const) {
    const ordered = order === 'registration order' ? filters : [...filters].reverse();

    it(`TopicTrie picks the most specific filter (${order})`, () => {
      const trie = new TopicTrie<string>();
      for (const filter of ordered) trie.insert(filter, filter);
      for (const { topic, filter, captures } of cases) {
        const found = trie.match(topic);
        expect(found?.filter, topic).toBe(filter);
        if (filter !== undefined) {
          expect(found?.values, topic).toEqual([filter]);
          expect(found?.captures, topic).toEqual(captures);
        }
      }
    });

    it(`RouteTable.match agrees (${order})`, () => {
      const router = new Router();
      for (const filter of ordered) router.on(filter, () => undefined);
      const table = compileRoutes(router, { defaultGroup: 'g' });
      for (const { topic, filter, captures } of cases) {
        const found = table.match(topic);
        expect(found?.filter, topic).toBe(filter);
        if (filter !== undefined) {
          expect(
            found?.routes.map((r) => r.pattern),
            topic,
          ).toEqual([filter]);
          expect(found?.captures, topic).toEqual(captures);
        }
      }
    });
  }
});

describe('TopicTrie', () => {
  it('keeps every value of one filter, in insertion order', () => {
    const trie = new TopicTrie<number>();
    trie.insert('a/+', 1);
    trie.insert('a/+', 2);
    trie.insert('a/b', 3);
    expect(trie.size).toBe(2);
    expect(trie.match('a/x')?.values).toEqual([1, 2]);
  });

  it('rejects a filter with # before the last level', () => {
    expect(() => new TopicTrie<number>().insert('a/#/b', 1)).toThrow(
      expect.objectContaining({ code: 'RMQ_ERR_PATTERN_INVALID' }),
    );
  });

  it('returns undefined, not a throw, for a non-string topic', () => {
    const trie = new TopicTrie<number>();
    trie.insert('#', 1);
    expect(trie.match(undefined as unknown as string)).toBeUndefined();
  });
});
