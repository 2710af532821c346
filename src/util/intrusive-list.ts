/** A node of an {@link IntrusiveList}: its links are fields of the object itself. */
export interface ListNode<T> {
  prev: T | undefined;
  next: T | undefined;
}

/**
 * A doubly linked list whose links live in its nodes, oldest first. Appending and removing are a few field writes,
 * with no allocation and no hashing: the hot path keeps its jobs and tries in flight in these, where a `Set` cost two
 * hash-table operations per message. A node is in at most one list at a time.
 */
export class IntrusiveList<T extends ListNode<T>> {
  #first: T | undefined;
  #last: T | undefined;

  /** The oldest node, or `undefined` when empty; follow `next` for the rest. */
  get first(): T | undefined {
    return this.#first;
  }

  /** Append `node` (not in any list). */
  push(node: T): void {
    if (this.#last) {
      this.#last.next = node;
      node.prev = this.#last;
    } else {
      this.#first = node;
    }
    this.#last = node;
  }

  /** Unlink `node` (in this list). */
  remove(node: T): void {
    if (node.prev) node.prev.next = node.next;
    else this.#first = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#last = node.prev;
    node.prev = node.next = undefined;
  }
}
