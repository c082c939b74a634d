import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
// Loaded up front: the election imports it on demand, which fake timers would stall.
import '../../../src/tabs/storage-lease-election';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { deniedLocks, deniedStorage } from './denied-platform';

// Where the browser refuses Web Locks, `navigator.locks` is still there and
// `auto` picks `locks`, but every request() rejects. What real Chromium does
// in an opaque origin (a `sandbox="allow-scripts"` iframe; checked with
// playwright-core and /usr/bin/chromium), and where the user blocked the
// site's data: request() rejects with SecurityError "Access to the Locks API
// is denied in this context", localStorage throws SecurityError, and
// BroadcastChannel works. No tab ever won the election, so realtime never
// connected, in any tab, for good: the election reported the error and
// waited for a lock that no tab would ever be granted.

let browser: FakeBrowser;

beforeEach(() => {
  vi.useFakeTimers();
  // Each refused request is reported (console.error in Node): expected here.
  vi.spyOn(console, 'error').mockImplementation(() => {});
  browser = createFakeBrowser({
    backend: createMemoryBackend({ heartbeatMs: 60_000 }),
    defaults: { platform: { locks: deniedLocks, storage: deniedStorage } },
  });
});
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Lets time pass in steps. */
async function run(ms: number): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += 100) await vi.advanceTimersByTimeAsync(100);
}

function received(tab: RealtimeClient): number[] {
  const seqs: number[] = [];
  tab.subscribe('tasks', (events: RealtimeEvent[]) => seqs.push(...events.map((e) => e.seq)));
  return seqs;
}

describe('Web Locks refused by the browser (opaque origin, site data blocked)', () => {
  it('a lone tab still connects', async () => {
    const tab = browser.tab();
    const seqs = received(tab);
    await run(10_000);
    expect(tab.getState().electionStrategy).toBe('locks');
    expect(tab.getState().status).toBe('connected');
    expect(browser.backend.connectionCount).toBe(1);
    browser.backend.publish({ service: 'tasks' });
    await run(100);
    expect(seqs).toEqual([1]);
  });

  it('three tabs that hear each other share one connection, and every tab gets every event once', async () => {
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const seqs = tabs.map(received);
    await run(10_000);
    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectionCount).toBe(1);
    for (let i = 0; i < 5; i++) browser.backend.publish({ service: 'tasks' });
    await run(100);
    for (const s of seqs) expect(s).toEqual([1, 2, 3, 4, 5]);
  });
});
