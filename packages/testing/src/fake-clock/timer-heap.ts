/**
 * One scheduled callback. `index` is its slot in the heap (−1 once it left the heap), so that
 * cancelling removes it in O(log n) instead of leaving a tombstone behind.
 */
export interface TimerNode {
  /** When the timer fires (Unix ns); never earlier than the clock's time when it was scheduled. */
  readonly deadline: bigint;
  /** Scheduling order; breaks ties between equal deadlines (first scheduled, first fired). */
  readonly seq: number;
  /** What to run. */
  readonly callback: () => void;
  /** Position in the heap array, or −1 when not in the heap. */
  index: number;
}

function before(a: TimerNode, b: TimerNode): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/**
 * A binary min-heap of timers ordered by `(deadline, seq)`: O(log n) insert, pop and remove,
 * O(1) peek. The caller bounds its size.
 */
export class TimerHeap {
  readonly #items: TimerNode[] = [];

  /** Number of timers in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest timer, without removing it. */
  peek(): TimerNode | undefined {
    return this.#items[0];
  }

  /** Adds a timer. */
  push(node: TimerNode): void {
    node.index = this.#items.length;
    this.#items.push(node);
    this.#up(node.index);
  }

  /** Removes and returns the earliest timer. */
  pop(): TimerNode | undefined {
    const first = this.#items[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Removes `node` if it is still in the heap; returns whether it was. */
  remove(node: TimerNode): boolean {
    const i = node.index;
    if (i < 0 || this.#items[i] !== node) return false;
    const last = this.#items.pop() as TimerNode;
    node.index = -1;
    if (last !== node) {
      this.#items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    return true;
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i] as TimerNode;
    const b = this.#items[j] as TimerNode;
    this.#items[i] = b;
    this.#items[j] = a;
    b.index = i;
    a.index = j;
  }

  #up(start: number): void {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.#items[i] as TimerNode, this.#items[parent] as TimerNode)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(start: number): void {
    let i = start;
    const n = this.#items.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < n && before(this.#items[left] as TimerNode, this.#items[least] as TimerNode)) least = left;
      if (right < n && before(this.#items[right] as TimerNode, this.#items[least] as TimerNode))
        least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }
}
