import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { fakeBrowserEach } from './fake-browser-each';

// A kill switch thrown and lifted with `setFlags` must be lifted in every
// tab. A tab that had no subscribers while it was lifted (it left the
// channel) used to keep its stale `emergencyDisable: true` when it joined
// again: the leader's answer was merged with "a disable wins", so the tab
// stayed off for the rest of the session — and, once it led, turned off
// every tab that joined after it.

const browser = fakeBrowserEach();

function collect(tab: RealtimeClient, out: number[]): () => void {
  return tab.subscribe('tasks', (events) => {
    for (const e of events) out.push(e.seq);
  });
}

describe('a kill switch lifted while a tab was idle', () => {
  it('is lifted in that tab when it subscribes again, and not spread to new tabs', async () => {
    const a = browser().tab();
    const b = browser().tab();
    const seenA: number[] = [];
    const seenB: number[] = [];
    collect(a, seenA);
    const offB = collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    a.setFlags({ emergencyDisable: true });
    await vi.advanceTimersByTimeAsync(100);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });

    // B's user goes to a page without realtime; meanwhile the switch is lifted.
    offB();
    await vi.advanceTimersByTimeAsync(1_000);
    a.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ status: 'connected' });

    // B comes back to a realtime page.
    collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState().flags.emergencyDisable).toBe(false);
    expect(b.getState()).toMatchObject({ status: 'connected' });
    browser().backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);
    expect(seenB).toEqual([1]);

    // A closes: B leads. A tab opened now must not inherit the old switch.
    await a.close();
    await vi.advanceTimersByTimeAsync(1_000);
    const c = browser().tab();
    const seenC: number[] = [];
    collect(c, seenC);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.getState().flags.emergencyDisable).toBe(false);
    browser().backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);
    expect(seenC).toEqual([2]);
  });

  it('keeps a switch a tab threw while out of the channel: no other tab knew it', async () => {
    const a = browser().tab();
    const b = browser().tab();
    collect(a, []);
    const seenB: number[] = [];
    const offB = collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    offB();
    await vi.advanceTimersByTimeAsync(1_000);
    b.setFlags({ emergencyDisable: true });
    collect(b, seenB);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(a.getState()).toMatchObject({ status: 'connected' });
  });
});

// A switch this tab threw while idle and later lifted itself while active
// must not come back (a disable wins) at the next hello after an idle spell.
describe('a switch a tab threw while idle and lifted itself later', () => {
  it('stays lifted after the tab is idle once more', async () => {
    const a = browser().tab();
    const b = browser().tab();
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
