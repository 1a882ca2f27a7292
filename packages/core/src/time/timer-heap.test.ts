import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type TimerEntry, TimerHeap } from './timer-heap.js';

function node(deadline: bigint, seq: number): TimerEntry {
  return { deadline, seq, callback: () => {}, index: -1 };
}

const order = (a: TimerEntry, b: TimerEntry) =>
  a.deadline === b.deadline ? a.seq - b.seq : a.deadline < b.deadline ? -1 : 1;

describe('TimerHeap', () => {
  it('property: interleaved push, pop and remove behave like a sorted list', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('push' as const), deadline: fc.bigInt(0n, 20n) }),
      fc.record({ op: fc.constant('pop' as const) }),
      fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new TimerHeap();
        let model: TimerEntry[] = [];
        let seq = 0;
        for (const step of ops) {
          if (step.op === 'push') {
            const n = node(step.deadline, seq++);
            heap.push(n);
            model.push(n);
            model.sort(order);
          } else if (step.op === 'pop') {
            expect(heap.pop()).toBe(model.shift());
          } else if (model.length > 0) {
            const victim = model[step.pick % model.length] as TimerEntry;
            expect(heap.remove(victim)).toBe(true);
            expect(heap.remove(victim)).toBe(false);
            expect(victim.index).toBe(-1);
            model = model.filter((n) => n !== victim);
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model[0]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('does not remove a node that was never pushed or was already popped', () => {
    const heap = new TimerHeap();
    const a = node(1n, 0);
    expect(heap.remove(a)).toBe(false);
    heap.push(a);
    expect(heap.pop()).toBe(a);
    expect(heap.remove(a)).toBe(false);
    expect(heap.pop()).toBeUndefined();
  });
});
