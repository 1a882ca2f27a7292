/**
 * One pending scheduler timer. `index` is its slot in the heap (−1 once it left), so that a
 * cancellation removes it in O(log n) instead of leaving a tombstone that holds memory.
 */
export interface TimerEntry {
  /** When the timer is due (Unix ns). */
  readonly deadline: bigint;
  /** Scheduling order; breaks ties between equal deadlines (first scheduled, first fired). */
  readonly seq: number;
  /** What to run. */
  readonly callback: () => void;
  /** Position in the heap array, or −1 when not in the heap. */
  index: number;
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/**
 * A binary min-heap of timers ordered by `(deadline, seq)`: O(log n) push, pop and remove, O(1)
 * peek. Shared by the consensus `Scheduler` and `FakeClock`; each bounds its size.
 */
export class TimerHeap {
  readonly #items: TimerEntry[] = [];

  /** Number of timers in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest timer, without removing it. */
  peek(): TimerEntry | undefined {
    return this.#items[0];
  }

  /** Adds a timer. */
  push(entry: TimerEntry): void {
    entry.index = this.#items.length;
    this.#items.push(entry);
    this.#up(entry.index);
  }

  /** Removes and returns the earliest timer. */
  pop(): TimerEntry | undefined {
    const first = this.#items[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Removes `entry` if it is still in the heap; returns whether it was. */
  remove(entry: TimerEntry): boolean {
    const i = entry.index;
    if (i < 0 || this.#items[i] !== entry) return false;
    const last = this.#items.pop() as TimerEntry;
    entry.index = -1;
    if (last !== entry) {
      this.#items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    return true;
  }

  /** Removes every timer and returns them (in heap order, not deadline order). */
  clear(): TimerEntry[] {
    const all = this.#items.splice(0);
    for (const entry of all) entry.index = -1;
    return all;
  }

  #swap(i: number, j: number): void {
    const a = this.#items[i] as TimerEntry;
    const b = this.#items[j] as TimerEntry;
    this.#items[i] = b;
    this.#items[j] = a;
    b.index = i;
    a.index = j;
  }

  #up(start: number): void {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.#items[i] as TimerEntry, this.#items[parent] as TimerEntry)) return;
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
      if (left < n && before(this.#items[left] as TimerEntry, this.#items[least] as TimerEntry)) least = left;
      if (right < n && before(this.#items[right] as TimerEntry, this.#items[least] as TimerEntry))
        least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }
}
