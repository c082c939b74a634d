import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// Delivery latency is measured against the server's clock: `now + offset −
// event.ts`, with the offset estimated at `welcome`. docs/observability.md:
// "A follower takes the offset from the welcome the leader relays … A client
// clock minutes off therefore still measures the true delay." A follower
// that opens after the leader's welcome (the usual second tab) never sees
// that welcome, so it must still learn the offset, else every latency it
// reports is off by the machine's clock error.

let browser: FakeBrowser | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  vi.useRealTimers();
});

describe('a follower that joins after the welcome measures against the server clock', () => {
  it.each([
    ['ahead', 300_000],
    ['behind', -300_000],
  ])('with the machine clock 5 minutes %s', async (_, skewMs) => {
    const serverNow = () => Date.now();
    browser = createFakeBrowser({
      backend: createMemoryBackend({ heartbeatMs: 60_000, now: serverNow }),
      // One machine: every tab has the same (wrong) wall clock.
      defaults: { platform: { wallClock: () => Date.now() + skewMs } },
    });
    const a = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    // The second tab opens later: the leader's welcome is long gone.
    const b = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    b.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    for (let i = 0; i < 20; i++) {
      // Each event happened 40 ms before it is delivered, by the server's clock.
      browser.backend.publish({ service: 'tasks', ts: serverNow() - 40 });
    }
    await vi.advanceTimersByTimeAsync(10_000);
    for (const tab of [a, b]) {
      const { deliveryP50Ms } = tab.getState().sli;
      expect(deliveryP50Ms).toBeGreaterThan(38);
      expect(deliveryP50Ms).toBeLessThan(42);
    }
  });
});
