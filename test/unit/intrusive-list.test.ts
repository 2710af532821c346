import { describe, expect, it } from 'vitest';
import { IntrusiveList } from '../../src/util/intrusive-list.js';
import type { ListNode } from '../../src/util/intrusive-list.js';

class Node implements ListNode<Node> {
  prev: Node | undefined;
  next: Node | undefined;
  constructor(readonly name: string) {}
}

function names(list: IntrusiveList<Node>): string[] {
  const out: string[] = [];
  for (let n = list.first; n; n = n.next) out.push(n.name);
  return out;
}

describe('IntrusiveList', () => {
  it('keeps insertion order and unlinks from the front, the middle and the end', () => {
    const list = new IntrusiveList<Node>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Node(n)) as [Node, Node, Node, Node];
    for (const n of [a, b, c, d]) list.push(n);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    list.remove(b);
    expect(names(list)).toEqual(['a', 'c', 'd']);
    expect(b.prev).toBeUndefined();
    expect(b.next).toBeUndefined();
    list.remove(a);
    list.remove(d);
    expect(names(list)).toEqual(['c']);
    list.push(a); // a removed node can join again, at the end
    expect(names(list)).toEqual(['c', 'a']);
    list.remove(c);
    list.remove(a);
    expect(list.first).toBeUndefined();
  });
});
