import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEDUP_CAPACITY,
  type DedupWindow,
  dedupKey,
  dedupWindow,
  MAX_DEDUP_CAPACITY,
} from '../../../src/pipeline/dedup-window';
import type { RealtimeEvent } from '../../../src/protocol/schemas';

describe('dedupWindow', () => {
  it('reports a key new once, then duplicate', () => {
    const window = dedupWindow(4);
    expect(window('a')).toBe(true);
    expect(window('a')).toBe(false);
    expect(window('a')).toBe(false);
    expect(window('b')).toBe(true);
  });

  it('evicts the oldest key first and then sees it as new again', () => {
    const window = dedupWindow(3);
    for (const key of ['a', 'b', 'c']) window(key);
    expect(window('d')).toBe(true); // evicts a
    // A duplicate leaves the window as it was, so these look without changing it.
    expect(['b', 'c', 'd'].map((k) => window(k))).toEqual([false, false, false]);
    expect(window('a')).toBe(true); // evicts b
    expect(['c', 'd', 'a'].map((k) => window(k))).toEqual([false, false, false]);
    expect(window('b')).toBe(true);
  });

  it('does not refresh a key on a duplicate hit (first-seen order)', () => {
    const window = dedupWindow(2);
    window('a');
    window('b');
    expect(window('a')).toBe(false);
    window('c'); // evicts a, the first seen, despite the later hit
    expect(window('b')).toBe(false);
    expect(window('a')).toBe(true);
  });

  /** Whether `window` remembers exactly `capacity` keys: the first of them until one more came. */
  function holdsExactly(window: DedupWindow, capacity: number): void {
    for (let i = 0; i < capacity; i++) window(String(i));
    expect(window('0')).toBe(false);
    window('one more'); // evicts '0'
    expect(window('1')).toBe(false);
    expect(window('0')).toBe(true);
  }

  // The capacity always comes from the resolved `dedupWindow` option (4096 unless set).
  it('holds 4096 keys at the default capacity', () => {
    expect(DEFAULT_DEDUP_CAPACITY).toBe(4096);
    holdsExactly(dedupWindow(DEFAULT_DEDUP_CAPACITY), DEFAULT_DEDUP_CAPACITY);
  });

  it('accepts the extremes 1 and the maximum', () => {
    const one = dedupWindow(1);
    expect(one('a')).toBe(true);
    expect(one('a')).toBe(false);
    expect(one('b')).toBe(true); // evicts a
    expect(one('b')).toBe(false);
    expect(one('a')).toBe(true);
    holdsExactly(dedupWindow(MAX_DEDUP_CAPACITY), MAX_DEDUP_CAPACITY);
  });

  describe('properties', () => {
    const scenario = fc.record({
      capacity: fc.integer({ min: 1, max: 12 }),
      // A small alphabet so that repeats and evictions both happen often.
      keys: fc.array(fc.integer({ min: 0, max: 25 }).map(String), { maxLength: 200 }),
    });

    it('agrees with a reference model: new iff not among the last `capacity` distinct adds', () => {
      fc.assert(
        fc.property(scenario, ({ capacity, keys }) => {
          const window = dedupWindow(capacity);
          const remembered: string[] = []; // oldest first
          for (const key of keys) {
            const expectedNew = !remembered.includes(key);
            expect(window(key)).toBe(expectedNew);
            if (expectedNew) {
              remembered.push(key);
              if (remembered.length > capacity) remembered.shift();
            }
            // Each remembered key is a duplicate (and asking does not change the window).
            for (const each of remembered) expect(window(each)).toBe(false);
          }
        }),
      );
    });

    it('a key stays a duplicate until `capacity` other distinct keys were added, then is new again', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 50 }),
          fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 120 }),
          (capacity, others) => {
            const window = dedupWindow(capacity);
            const key = '\u0000probe';
            window(key);
            let distinctSince = 0;
            for (const other of others) {
              if (distinctSince < capacity) expect(window(key)).toBe(false);
              window(other);
              distinctSince++;
            }
            expect(window(key)).toBe(distinctSince >= capacity);
          },
        ),
      );
    });
  });
});

describe('dedupKey', () => {
  const base: RealtimeEvent = {
    service: 'tasks',
    entityType: 'task',
    type: 'task.updated',
    seq: 57,
    ts: 1,
    orgId: 'org_1',
  };

  it('is service:entityType:eventId when the event has an id', () => {
    expect(dedupKey({ ...base, eventId: 'evt_1' })).toBe('tasks:task:evt_1');
  });

  it('is service:seq:<seq> without an id', () => {
    expect(dedupKey(base)).toBe('tasks:seq:57');
  });
});
