import { describe, expect, it, vi } from 'vitest';
import type { RealtimeOptions } from '../../../src/options';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// The events of a kill switch's time are replayed when it lifts. Their
// delivery latency counted the time realtime was off on purpose (the app
// was told by `fallback` to use its own path meanwhile): a 5-minute switch
// became 5-minute samples, p95/p99 far above their SLOs and the deliveryP99
// alert raised. Latency counts from the moment realtime came back on for
// them; a network outage while on still counts whole, as any reconnect's
// catch-up always has.

const browser = fakeBrowserEach();

/** A tab that measures SLIs, subscribed to `tasks`. */
function tab(options: Partial<RealtimeOptions> = {}) {
  const rt = browser().tab({ telemetry: { measure: 'always' }, ...options });
  rt.subscribe('tasks', () => {});
  return rt;
}

describe('latency of the events replayed when realtime comes back on', () => {
  it('does not count the time a kill switch was on', async () => {
    const rt = tab({ leader: { strategy: 'none' } });
    const { backend } = browser();
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');

    rt.setFlags({ emergencyDisable: true });
    for (let i = 0; i < 20; i++) {
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(15_000);
    }
    rt.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(10_000);
    const state = rt.getState();
    expect(state.byServiceDelivered.tasks).toBe(20);
    expect(state.byServiceP95LatencyMs.tasks).toBeLessThan(1_000);
    expect(state.sli.deliveryP99Ms).toBeLessThan(1_000);
    expect(state.alerts.map((a) => a.name)).not.toContain('deliveryP99');
  });

  it('still counts a network outage whole, as any reconnect catch-up', async () => {
    const rt = tab({ leader: { strategy: 'none' }, backoff: { baseMs: 1_000, capMs: 1_000 } });
    const { backend } = browser();
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    backend.failNextConnects(1_000);
    backend.drop();
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(60_000);
    backend.failNextConnects(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().byServiceDelivered.tasks).toBe(1);
    expect(rt.getState().sli.deliveryP99Ms).toBeGreaterThan(50_000);
  });

  it("does not count, in a follower, the leader's rollback cooldown", async () => {
    const rollback = { minSamples: 1, cooldownMs: 60_000 };
    tab({ rollback });
    const b = tab({ rollback });
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    for (let i = 0; i < 5; i++) {
      browser().backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(10_000);
    }
    await vi.advanceTimersByTimeAsync(30_000);
    expect(b.getState().status).toBe('connected');
    expect(b.getState().byServiceDelivered.tasks).toBe(5);
    expect(b.getState().sli.deliveryP99Ms).toBeLessThan(1_000);
  });
});
