import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

// #ownFlags is updated by setFlags only while the tab is idle. A switch this
// tab threw while idle and later lifted itself while active stays in
// #ownFlags, and comes back (disableWins) at the next hello after an idle spell.

let browser: FakeBrowser;
beforeEach(() => {
  vi.useFakeTimers();
  browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
});
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

const collect = (tab: RealtimeClient, out: number[]) =>
  tab.subscribe('tasks', (events) => {
    for (const e of events) out.push(e.seq);
  });

describe('a switch a tab threw while idle and lifted itself later', () => {
  it('stays lifted after the tab is idle once more', async () => {
    const a = browser.tab();
    const b = browser.tab();
    collect(a, []);
    const seenB: number[] = [];
    let offB = collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    offB();
    await vi.advanceTimersByTimeAsync(1_000);
    b.setFlags({ emergencyDisable: true }); // idle: b's own
    offB = collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });

    // b lifts its own switch while active: every tab hears it.
    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'connected' });
    expect(a.getState().flags.emergencyDisable).toBe(false);

    // An idle spell, with nothing changed anywhere.
    offB();
    await vi.advanceTimersByTimeAsync(1_000);
    collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState().flags.emergencyDisable).toBe(false);
    expect(b.getState()).toMatchObject({ status: 'connected' });
  });
});
