import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceDedup } from '../../../src/pipeline/service-dedup';

describe('serviceDedup', () => {
  it('keys by entity type and event id together', () => {
    const dedup = serviceDedup(8);
    expect(dedup('task', 'e1')).toBe(true);
    expect(dedup('task', 'e1')).toBe(false);
    expect(dedup('comment', 'e1')).toBe(true);
    expect(dedup('comment', 'e1')).toBe(false);
    expect(dedup('comment', 'e2')).toBe(true);
    expect([dedup('task', 'e1'), dedup('comment', 'e1'), dedup('comment', 'e2')]).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('forgets the oldest key of each window, the first type seen and the others', () => {
    const dedup = serviceDedup(2);
    for (const id of ['a', 'b', 'c']) dedup('task', id); // evicts task a
    for (const id of ['a', 'b', 'c']) dedup('comment', id); // evicts comment a
    expect([dedup('task', 'b'), dedup('task', 'c')]).toEqual([false, false]);
    expect([dedup('comment', 'b'), dedup('comment', 'c')]).toEqual([false, false]);
    expect(dedup('task', 'a')).toBe(true);
    expect(dedup('comment', 'a')).toBe(true);
  });

  it('does not confuse a composite-looking id with another type', () => {
    const dedup = serviceDedup(8);
    dedup('task', 'x');
    expect(dedup('comment', 'x')).toBe(true);
    // "comment:x" as a bare id of the first type is a different key from (comment, x).
    expect(dedup('task', 'comment:x')).toBe(true);
  });

  it('tells apart types and ids that contain the separator', () => {
    const dedup = serviceDedup(8);
    dedup('task', 'x');
    // Joined with a bare `:`, both of these were `a:b:c` in the window of the other types.
    expect(dedup('a:b', 'c')).toBe(true);
    expect(dedup('a', 'b:c')).toBe(true);
    expect(dedup('a:', 'bc')).toBe(true);
    expect([dedup('a:b', 'c'), dedup('a', 'b:c'), dedup('a:', 'bc')]).toEqual([false, false, false]);
  });

  it('never calls a fresh key a duplicate, always remembers the last `capacity` distinct keys, holds ≤ 2 × capacity (property)', () => {
    const key = fc.record({
      // Types and ids with the `:` of the dedup key in them, which must not make two keys one.
      type: fc.constantFrom('task', 'comment', 'file', 'a', 'a:b', 'a:', '1'),
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'b:c', ':c', 'c', '1a'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(key, { maxLength: 150 }), (capacity, keys) => {
        const dedup = serviceDedup(capacity);
        const everSeen = new Set<string>();
        const recent: string[] = []; // the last `capacity` distinct keys, oldest first
        // The model of its two FIFO windows, `capacity` keys each, so 2 × capacity at most:
        // the first type seen, and all the others.
        let firstType: string | undefined;
        const firstWindow: string[] = [];
        const otherWindow: string[] = [];
        for (const { type, id } of keys) {
          const composite = `${type}\u0000${id}`;
          const isNew = dedup(type, id);
          firstType ??= type;
          const window = type === firstType ? firstWindow : otherWindow;
          expect(isNew).toBe(!window.includes(composite));
          if (isNew) {
            window.push(composite);
            if (window.length > capacity) window.shift();
          }
          if (!everSeen.has(composite)) expect(isNew).toBe(true);
          if (recent.includes(composite)) expect(isNew).toBe(false);
          everSeen.add(composite);
          if (isNew) {
            const at = recent.indexOf(composite);
            if (at >= 0) recent.splice(at, 1);
            recent.push(composite);
            if (recent.length > capacity) recent.shift();
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
