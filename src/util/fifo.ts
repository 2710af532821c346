/**
 * A FIFO queue with O(1) `push` and `shift`. `Array.prototype.shift` is O(n) once an array is large (V8 cannot
 * left-trim it any more), which made a backlog of a few thousand messages quadratic on the hot path.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed prefix once it is most of the array.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Call `fn` on each item, oldest first. */
  forEach(fn: (item: T) => void): void {
    for (let i = this.#head; i < this.#items.length; i++) fn(this.#items[i] as T);
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
