import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './tabs/fake-browser-each';

// A rollback cooldown that ended while the tab was idle (nothing
// subscribed: no SLI tick) was noticed by the gate (here re-applied by a
// flags message), which cleared the trip without a word: the tab left
// `disabled` while `getState().rollback` kept saying `tripped`, for as long
// as it stayed idle (an active tab's welcome or 10 s tick tell the guard's
// next verdict). The guard now also ends the trip with a timer of its own,
// the last two tests; the gate still tells an end it notices first.

const browser = fakeBrowserEach();

describe('a rollback cooldown that ends while the tab idles', () => {
  it('shows the trip ended as soon as the gate lets the tab back', async () => {
    const tab = browser().tab({ rollback: { minSamples: 1, cooldownMs: 60_000 } });
    const unsubscribe = tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(tab.getState()).toMatchObject({ status: 'disabled', rollback: { state: 'tripped' } });

    unsubscribe();
    await vi.advanceTimersByTimeAsync(120_000);
    tab.setFlags({ shadowMode: true });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tab.getState()).toMatchObject({ status: 'idle', rollback: { state: 'ok' } });

    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
  });

  // The end of a cooldown was noticed only when something asked the guard:
  // the next SLI tick (up to 10 s later) in an active tab, nothing at all in
  // an idle one. Until then the state said `tripped` and realtime stayed off.
  it('shows the trip ended and lets an active tab back as the cooldown ends', async () => {
    const tab = browser().tab({ rollback: { minSamples: 1, cooldownMs: 60_000 } });
    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(tab.getState()).toMatchObject({ status: 'disabled', rollback: { state: 'tripped' } });

    // The ticks fall at whole 10 s from the start: 61.2 s is between two.
    await vi.advanceTimersByTimeAsync(60_100);
    expect(tab.getState().rollback).toEqual({ state: 'ok' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
  });

  it('shows the trip ended in an idle tab as the cooldown ends', async () => {
    const tab = browser().tab({ rollback: { minSamples: 1, cooldownMs: 60_000 } });
    const unsubscribe = tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    unsubscribe();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(tab.getState()).toMatchObject({ status: 'disabled', rollback: { state: 'tripped' } });

    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({
      status: 'idle',
      disabledReason: undefined,
      rollback: { state: 'ok' },
    });
  });

  // The timer that ends the cooldown belongs to the client: one left behind
  // by close() would keep a Node process (a test run, a server render) alive
  // for the whole cooldown.
  it('leaves no cooldown timer behind once the client is closed', async () => {
    const tab = browser().tab({ rollback: { minSamples: 1, cooldownMs: 600_000 } });
    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(tab.getState().rollback.state).toBe('tripped');
    const before = vi.getTimerCount();
    await tab.close();
    await vi.advanceTimersByTimeAsync(20_000);
    // Whatever else the fake browser keeps, no timer is due in the cooldown's 10 minutes.
    expect(vi.getTimerCount()).toBeLessThan(before);
    const seen: string[] = [];
    tab.subscribeState((state) => seen.push(state.rollback.state));
    await vi.advanceTimersByTimeAsync(600_000);
    expect(seen).toEqual([]);
  });
});
