import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceDedup } from '../../../src/pipeline/service-dedup';

describe('ServiceDedup', () => {
  it('keys by entity type and event id together', () => {
    const dedup = new ServiceDedup(8);
    expect(dedup.add('task', 'e1')).toBe(true);
    expect(dedup.add('task', 'e1')).toBe(false);
    expect(dedup.add('comment', 'e1')).toBe(true);
    expect(dedup.add('comment', 'e1')).toBe(false);
    expect(dedup.add('comment', 'e2')).toBe(true);
    expect(dedup.size).toBe(3);
  });

  it('does not confuse a composite-looking id with another type', () => {
    const dedup = new ServiceDedup(8);
    dedup.add('task', 'x');
    expect(dedup.add('comment', 'x')).toBe(true);
    // "comment:x" as a bare id of the first type is a different key from (comment, x).
    expect(dedup.add('task', 'comment:x')).toBe(true);
  });

  it('never calls a fresh key a duplicate, always remembers the last `capacity` distinct keys, holds ≤ 2 × capacity (property)', () => {
    const key = fc.record({
      type: fc.constantFrom('task', 'comment', 'file'),
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(key, { maxLength: 150 }), (capacity, keys) => {
        const dedup = new ServiceDedup(capacity);
        const everSeen = new Set<string>();
        const recent: string[] = []; // the last `capacity` distinct keys, oldest first
        for (const { type, id } of keys) {
          const composite = `${type}\u0000${id}`;
          const isNew = dedup.add(type, id);
          if (!everSeen.has(composite)) expect(isNew).toBe(true);
          if (recent.includes(composite)) expect(isNew).toBe(false);
          everSeen.add(composite);
          if (isNew) {
            const at = recent.indexOf(composite);
            if (at >= 0) recent.splice(at, 1);
            recent.push(composite);
            if (recent.length > capacity) recent.shift();
          }
          expect(dedup.size).toBeLessThanOrEqual(2 * capacity);
        }
      }),
      { numRuns: 500 },
    );
  });
});
