import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { MAX_RETRY_AFTER_MS } from '../../../src/util/timers';

// The connection honoured any `retryAfterMs` / `Retry-After` in full: a
// proxy's `Retry-After: 86400` kept realtime away for a day, a
// `retryAfterMs: 1e12` for 31 years, and an Infinity (a WebSocket close
// reason of `1e400`, a custom transport) for good. The wait is now capped at
// MAX_RETRY_AFTER_MS (5 minutes); a negative or NaN wait is no wait.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

/** A tab whose first connect is refused as `overloaded` with `retryAfterMs`. */
async function refusedWith(retryAfterMs: number) {
  browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
  const rt = browser.tab({ leader: { strategy: 'none' }, platform: { random: () => 0 } });
  const retries: Array<number | undefined> = [];
  rt.on('disconnected', ({ willRetryInMs }) => retries.push(willRetryInMs));
  browser.backend.failNextConnects(1, new RealtimeError('overloaded', 'busy', { status: 429, retryAfterMs }));
  rt.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(0);
  expect(browser.backend.connectCount).toBe(1);
  return { rt, retries };
}

describe("a server's retry wait", () => {
  it.each([
    ['a day (Retry-After: 86400)', 86_400_000],
    ["past setTimeout's limit", 1e12],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('of %s holds the reconnect back 5 minutes, not longer', async (_, retryAfterMs) => {
    const { rt, retries } = await refusedWith(retryAfterMs);
    expect(retries).toEqual([MAX_RETRY_AFTER_MS]);
    await vi.advanceTimersByTimeAsync(MAX_RETRY_AFTER_MS - 1);
    expect(browser.backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(browser.backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
    // No timer left spinning behind it.
    expect(vi.getTimerCount()).toBeLessThan(10);
  });

  it('is capped when a restart inside it waits it out too', async () => {
    const { rt } = await refusedWith(1e12);
    // The tab goes idle and back: the new attempt waits out the server's wait.
    rt.subscribe('finance', () => {})();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(browser.backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(MAX_RETRY_AFTER_MS);
    expect(rt.getState().status).toBe('connected');
  });

  it('of an error frame on a live stream is capped too', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const rt = browser.tab({ leader: { strategy: 'none' }, platform: { random: () => 0 } });
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);
    expect(rt.getState().status).toBe('connected');
    browser.backend.sendRaw({ type: 'error', code: 'overloaded', message: 'busy', retryAfterMs: 86_400_000 });
    await vi.advanceTimersByTimeAsync(MAX_RETRY_AFTER_MS - 1_000);
    expect(browser.backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(browser.backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });

  it.each([
    ['negative', -5000],
    ['NaN', Number.NaN],
  ])('that is %s is no wait: the backoff alone decides', async (_, retryAfterMs) => {
    const { rt, retries } = await refusedWith(retryAfterMs);
    // Attempt 0's backoff with a draw of 0: the floor, 500 ms.
    expect(retries).toEqual([500]);
    await vi.advanceTimersByTimeAsync(500);
    expect(browser.backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });
});
