import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, createMemoryBackend } from '../../../src/testing';

// What an app team hit adopting tabwire/testing: a backend made before the
// test's fake timers stamped real time, and arguments that made frames the
// client drops in silence (counted as invalid) instead of refusing them.

afterEach(() => {
  vi.useRealTimers();
});

describe('the memory backend under fake timers installed after it was created', () => {
  it("stamps events with the fake clock the tabs read, as the fake browser's clock does", async () => {
    // A browser shared by a test file, made before any test installs fake timers.
    const browser = createFakeBrowser();
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2020-01-01T00:00:00Z'));
    const tab = browser.tab();
    const stamps: number[] = [];
    tab.subscribe('tasks', (events) => stamps.push(...events.map((e) => e.ts)));
    await vi.advanceTimersByTimeAsync(100);

    browser.backend.publish({ service: 'tasks' });

    expect(stamps).toEqual([Date.parse('2020-01-01T00:00:00.100Z')]);
    await browser.close();
  });
});

describe('the memory backend refuses what would make frames the client drops', () => {
  it.each([0, -5, 0.5, Number.NaN])('heartbeatMs %s: no welcome would be valid', (heartbeatMs) => {
    expect(() => createMemoryBackend({ heartbeatMs })).toThrow(
      new RangeError(
        `createMemoryBackend: heartbeatMs must be a positive integer up to 2147483647 (the timers' bound), got ${heartbeatMs}`,
      ),
    );
  });

  // A timer's delay past 2^31 - 1 ms fires after 1 ms, in Node and in
  // vi.useFakeTimers alike: "no heartbeats in practice" sent one every ms.
  it.each([2 ** 31, Number.MAX_SAFE_INTEGER])("heartbeatMs %s: past the timers' bound", (heartbeatMs) => {
    expect(() => createMemoryBackend({ heartbeatMs })).toThrow(
      new RangeError(
        `createMemoryBackend: heartbeatMs must be a positive integer up to 2147483647 (the timers' bound), got ${heartbeatMs}`,
      ),
    );
  });

  it("takes the timers' bound itself: a welcome, then no heartbeat", async () => {
    vi.useFakeTimers();
    const backend = createMemoryBackend({ heartbeatMs: 2 ** 31 - 1 });
    const frames: string[] = [];
    const aborted = new AbortController();
    await backend.transport.connect({
      url: 'http://127.0.0.1:1/v2/realtime',
      services: ['tasks'],
      propertyIds: null,
      cursor: {},
      onFrame: (frame) => frames.push(JSON.parse(String(frame)).type),
      onClose: () => {},
      signal: aborted.signal,
    });
    await vi.advanceTimersByTimeAsync(100);
    aborted.abort();
    expect(frames).toEqual(['welcome']);
  });

  it.each([-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'skip %s: seqs reused or no integers, and nothing skipped',
    (count) => {
      const backend = createMemoryBackend();
      backend.publish({ service: 'tasks' });
      expect(() => backend.skip('tasks', count)).toThrow(
        new RangeError(`skip needs a whole count ≥ 0 that keeps seqs safe integers, got ${count}`),
      );
      expect(backend.publish({ service: 'tasks' }).seq).toBe(2);
    },
  );

  it('skip past Number.MAX_SAFE_INTEGER: the next seq would be one the client drops', () => {
    const backend = createMemoryBackend();
    backend.publish({ service: 'tasks' });
    const count = Number.MAX_SAFE_INTEGER - 1;
    expect(() => backend.skip('tasks', count)).toThrow(
      new RangeError(`skip needs a whole count ≥ 0 that keeps seqs safe integers, got ${count}`),
    );
    backend.skip('tasks', Number.MAX_SAFE_INTEGER - 2);
    expect(backend.publish({ service: 'tasks' }).seq).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([-1, 0.5, Number.NaN])('failNextConnects %s: as many failures as meant, or none', (count) => {
    expect(() => createMemoryBackend().failNextConnects(count)).toThrow(
      new RangeError(`failNextConnects needs a whole count ≥ 0 (or Infinity), got ${count}`),
    );
  });

  it.each([-1, 0.5, Number.NaN])('loseNextBatches %s: a gap test that loses nothing', (count) => {
    expect(() => createMemoryBackend().loseNextBatches(count)).toThrow(
      new RangeError(`loseNextBatches needs a whole count ≥ 0 (or Infinity), got ${count}`),
    );
  });

  it('takes every whole count, Infinity for losing every batch', async () => {
    vi.useFakeTimers();
    const browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 1_000 }) });
    const tab = browser.tab();
    const seqs: number[] = [];
    tab.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    browser.backend.skip('tasks', 0);
    browser.backend.skip('tasks', 2);
    browser.backend.publish({ service: 'tasks' });
    browser.backend.loseNextBatches(Number.POSITIVE_INFINITY);
    browser.backend.publish({ service: 'tasks' });
    browser.backend.publish({ service: 'tasks' });
    browser.backend.loseNextBatches(0);
    browser.backend.publish({ service: 'tasks' }); // shows the gap
    await vi.advanceTimersByTimeAsync(1000); // the client replays from its cursor
    expect(seqs).toEqual([3, 4, 5, 6]);
    expect(tab.getState().counters.invalidFrames).toBe(0);
    await browser.close();
  });
});

describe('a seeded run (docs/testing.md, "Replaying a run")', () => {
  // mulberry32: a small seeded generator, as an app's test would bring.
  const seeded = (seed: number) => {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };

  // Reconnects through failed connects (the backoff's jitter), then a takeover.
  async function run(seed: number): Promise<string[]> {
    vi.useFakeTimers({ now: 0 });
    const browser = createFakeBrowser({ defaults: { platform: { random: seeded(seed) } } });
    const trace: string[] = [];
    for (const [i, tab] of [browser.tab(), browser.tab(), browser.tab()].entries()) {
      tab.on('statechange', (s) => trace.push(`${Date.now()} tab ${i}: ${s.status}, leader ${s.isLeader}`));
      tab.subscribe('tasks', (events) =>
        trace.push(`${Date.now()} tab ${i}: seqs ${events.map((e) => e.seq)}`),
      );
    }
    await vi.advanceTimersByTimeAsync(100);
    browser.backend.failNextConnects(4);
    browser.backend.drop();
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(60_000);
    browser.crash(browser.leaders()[0] ?? browser.tabs[0]!);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(60_000);
    await browser.close();
    vi.useRealTimers();
    return trace;
  }

  it('replays to the millisecond with the same seed, and the trace shows the jitter', async () => {
    const first = await run(1);
    expect(await run(1)).toEqual(first);
    expect(await run(2)).not.toEqual(first);
  });
});
