import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { fakeBrowserEach } from '../tabs/fake-browser-each';

// The latency of an event stamped before this tab subscribed to its service
// counts from the subscription (latency-after-resubscribe.test.ts). But a
// page that swaps one subscriber of a service for another in one go (a route
// change from a list to a detail view that both use
// `useRealtimeService('tasks')`: React runs the old component's cleanup and
// the new one's effect in the same commit; StrictMode's unmount + mount) is
// never away from it: the connection is not even updated. Taken for a new
// subscription, the swap restarted the service's latency clock, and an
// outage the page sat through while subscribed was measured from the last
// navigation: a minute of outage became near-zero samples, and the
// `deliveryP99` SLO and alert stayed green.

const browser = fakeBrowserEach();

function tab(): RealtimeClient {
  return browser().tab({ telemetry: { measure: 'always' }, leader: { strategy: 'none' } });
}

describe('latency across an unsubscribe and a subscribe of one service in one go', () => {
  it('still counts an outage the page sat through subscribed, however it navigated', async () => {
    const { backend } = browser();
    const rt = tab();
    let off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState().status).toBe('connected');

    // The server goes away for a minute; events are published meanwhile.
    backend.failNextConnects(1_000);
    backend.drop();
    for (let i = 0; i < 6; i++) {
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(10_000);
    }
    // The user moves to another view of the same service, in one commit.
    off();
    off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    // The server is back: the outage's events are replayed.
    backend.failNextConnects(0);
    await vi.advanceTimersByTimeAsync(120_000);
    const state = rt.getState();
    expect(state.status).toBe('connected');
    expect(state.byServiceDelivered.tasks).toBe(6);
    // The first one waited over a minute (the sketch is within 2 %), all of it while subscribed.
    expect(state.sli.deliveryP99Ms).toBeGreaterThan(50_000);
    off();
  });
});
