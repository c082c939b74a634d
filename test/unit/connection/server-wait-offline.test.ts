import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

// `online()` no longer reconnects while the server's Retry-After runs, on the
// premise that "the retry armed for the end of the wait still runs". An
// attempt that found the browser offline arms no retry ("the online event
// restarts us"): if that attempt was started inside the wait (the loop
// restarted: idle → active, a new leader, bfcache), the `online` event that
// comes before the wait ends is ignored and nothing ever connects again.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

describe('an online event inside the server wait, after an offline attempt', () => {
  it('still connects once the wait is over', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const navigator = { onLine: true };
    const rt = browser.tab({ leader: { strategy: 'none' }, platform: { navigator } });
    let off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);
    expect(rt.getState().status).toBe('connected');

    browser.backend.error('overloaded', 'busy', 60_000);
    await vi.advanceTimersByTimeAsync(100);
    expect(rt.getState().status).toBe('reconnecting');

    // The user leaves the realtime page and comes back while offline.
    off();
    await vi.advanceTimersByTimeAsync(100);
    navigator.onLine = false;
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);

    // The network is back ten seconds later, inside the server's wait.
    navigator.onLine = true;
    browser.windowOf(rt).dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().status).not.toBe('connected'); // the wait is honoured

    await vi.advanceTimersByTimeAsync(120_000);
    expect(rt.getState().status).toBe('connected');
  });

  it('holds a restart (idle, then a new subscriber) to the wait too', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const rt = browser.tab({ leader: { strategy: 'none' } });
    let off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);
    const connects = browser.backend.connectCount;
    browser.backend.error('overloaded', 'busy', 60_000);
    await vi.advanceTimersByTimeAsync(100);
    off();
    await vi.advanceTimersByTimeAsync(100);
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(30_000);
    expect(browser.backend.connectCount).toBe(connects);
    await vi.advanceTimersByTimeAsync(31_000);
    expect(browser.backend.connectCount).toBe(connects + 1);
    expect(rt.getState().status).toBe('connected');
    off();
  });

  it('waits out a Retry-After longer than a timer can hold, capped, without spinning', async () => {
    // 30 days: past setTimeout's 2^31 − 1 ms, which browsers fire at once;
    // honoured for 5 minutes (MAX_RETRY_AFTER_MS).
    const month = 30 * 24 * 3_600_000;
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const rt = browser.tab({ leader: { strategy: 'none' } });
    let off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);
    const connects = browser.backend.connectCount;
    browser.backend.error('overloaded', 'busy', month);
    await vi.advanceTimersByTimeAsync(100);
    // A restart inside the wait takes the wait's own timer path.
    off();
    await vi.advanceTimersByTimeAsync(2_000);
    const statuses: string[] = [];
    rt.subscribeState((state) => statuses.push(state.status));
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(290_000);
    expect(browser.backend.connectCount).toBe(connects);
    // One 'connecting' for the restart, not one per wake of a timer that fired at once.
    expect(statuses.filter((status) => status !== statuses[0]).length).toBeLessThan(3);
    expect(vi.getTimerCount()).toBeLessThan(10);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(browser.backend.connectCount).toBe(connects + 1);
    off();
  });
});
