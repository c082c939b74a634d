import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEDUP_CAPACITY,
  DedupWindow,
  dedupKey,
  MAX_DEDUP_CAPACITY,
} from '../../../src/pipeline/dedup-window';
import type { RealtimeEvent } from '../../../src/protocol/schemas';

describe('DedupWindow', () => {
  it('reports a key new once, then duplicate', () => {
    const window = new DedupWindow(4);
    expect(window.add('a')).toBe(true);
    expect(window.add('a')).toBe(false);
    expect(window.add('a')).toBe(false);
    expect(window.add('b')).toBe(true);
  });

  it('evicts the oldest key first and then sees it as new again', () => {
    const window = new DedupWindow(3);
    for (const key of ['a', 'b', 'c']) window.add(key);
    expect(window.add('d')).toBe(true); // evicts a
    // A duplicate leaves the window as it was, so these look without changing it.
    expect(['b', 'c', 'd'].map((k) => window.add(k))).toEqual([false, false, false]);
    expect(window.add('a')).toBe(true); // evicts b
    expect(['c', 'd', 'a'].map((k) => window.add(k))).toEqual([false, false, false]);
    expect(window.add('b')).toBe(true);
  });

  it('does not refresh a key on a duplicate hit (first-seen order)', () => {
    const window = new DedupWindow(2);
    window.add('a');
    window.add('b');
    expect(window.add('a')).toBe(false);
    window.add('c'); // evicts a, the first seen, despite the later hit
    expect(window.add('b')).toBe(false);
    expect(window.add('a')).toBe(true);
  });

  it('defaults to 4096 keys', () => {
    expect(new DedupWindow().capacity).toBe(DEFAULT_DEDUP_CAPACITY);
    expect(DEFAULT_DEDUP_CAPACITY).toBe(4096);
  });

  it('accepts the extremes 1 and the maximum', () => {
    expect(new DedupWindow(1).capacity).toBe(1);
    expect(new DedupWindow(MAX_DEDUP_CAPACITY).capacity).toBe(MAX_DEDUP_CAPACITY);
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
          const window = new DedupWindow(capacity);
          const remembered: string[] = []; // oldest first
          for (const key of keys) {
            const expectedNew = !remembered.includes(key);
            expect(window.add(key)).toBe(expectedNew);
            if (expectedNew) {
              remembered.push(key);
              if (remembered.length > capacity) remembered.shift();
            }
            // Each remembered key is a duplicate (and asking does not change the window).
            for (const each of remembered) expect(window.add(each)).toBe(false);
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
            const window = new DedupWindow(capacity);
            const key = '\u0000probe';
            window.add(key);
            let distinctSince = 0;
            for (const other of others) {
              if (distinctSince < capacity) expect(window.add(key)).toBe(false);
              window.add(other);
              distinctSince++;
            }
            expect(window.add(key)).toBe(distinctSince >= capacity);
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
