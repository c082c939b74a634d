import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// A page that leaves a service (a route change) and comes back to it later
// gets the events it missed replayed from the cursor the tab kept. Their
// delivery latency counted the whole time the page was away: nobody in the
// tab was subscribed, so no handler waited for them, yet a 20-minute visit
// elsewhere became 20-minute samples, `deliveryP99Ms` (an SLO of 2 s) and
// `byServiceP95LatencyMs` at minutes, and the `deliveryP99` alert fed by
// navigation rather than by the network. As for a kill switch's time off,
// such an event counts from the moment this tab subscribed to its service
// again; an outage while subscribed still counts whole (see
// latency-after-kill-switch.test.ts).

const browser = fakeBrowserEach();

function tab(options: Partial<RealtimeOptions> = {}): RealtimeClient {
  return browser().tab({ telemetry: { measure: 'always' }, ...options });
}

/** Publishes one `tasks` event a minute for `minutes` minutes. */
async function eventsFor(minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) {
    browser().backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(60_000);
  }
}

function expectFreshLatency(rt: RealtimeClient, delivered: number): void {
  const state = rt.getState();
  expect(state.byServiceDelivered.tasks).toBe(delivered);
  expect(state.sli.deliveryP99Ms).toBeLessThan(1_000);
  expect(state.byServiceP95LatencyMs.tasks).toBeLessThan(1_000);
  expect(state.slo.deliveryP99Ms?.ok).toBe(true);
}

describe('latency of the events replayed when a tab subscribes to a service again', () => {
  it('does not count the time the page was on another route', async () => {
    const rt = tab({ leader: { strategy: 'none' } });
    rt.subscribe('users', () => {}); // the page keeps realtime on meanwhile
    let off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState().status).toBe('connected');

    off();
    await vi.advanceTimersByTimeAsync(1_000);
    await eventsFor(20);
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    // The replay brought the 20 events of the visit elsewhere.
    expectFreshLatency(rt, 20);
    off();
  });

  it('does not count the time the tab was idle (no subscriber at all)', async () => {
    const rt = tab({ leader: { strategy: 'none' } });
    let off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    off();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState().status).toBe('idle');

    await eventsFor(20);
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().status).toBe('connected');
    expectFreshLatency(rt, 20);
    off();
  });

  it('does not count it in a follower either, whose replay comes through the leader', async () => {
    // The leader's tab shows `users` only: `tasks` leaves the connection's
    // subscription with the follower's page, and comes back with it.
    const a = tab();
    a.subscribe('users', () => {});
    const b = tab();
    b.subscribe('users', () => {});
    let off = b.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState().isLeader).toBe(true);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    off();
    await vi.advanceTimersByTimeAsync(1_000);
    await eventsFor(20);
    off = b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expectFreshLatency(b, 20);
    off();
  });

  it('still counts the delay of an event published while subscribed', async () => {
    const rt = tab({ leader: { strategy: 'none' } });
    rt.subscribe('users', () => {});
    const off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    off();
    await vi.advanceTimersByTimeAsync(1_000);
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(60_000);
    // Stamped by the server 30 s before it reaches the tab, all while subscribed.
    browser().backend.publish({ service: 'tasks', ts: Date.now() - 30_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().byServiceDelivered.tasks).toBe(1);
    expect(rt.getState().sli.deliveryP99Ms).toBeGreaterThan(29_000);
  });
});
