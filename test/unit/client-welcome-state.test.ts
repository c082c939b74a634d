import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { globalTimersClock as clock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// The loop reported `connected` after the client's welcome sink had
// already stopped the connection (a statechange listener flipping the kill
// switch, as the rollback guard could trip there too). The state
// then said `connected` beside a disabledReason, with no connection, and
// mirrored that to the other tabs.

const clients: RealtimeClient[] = [];
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('a connection stopped while its welcome is handled', () => {
  it('is not shown as connected', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope: { orgId: 'org_test', userId: 'u_1' },
      transports: [backend.transport],
      devtools: false,
      leader: { strategy: 'none' },
      telemetry: { sampleRate: 0 },
      platform: { clock, random: () => 0.5, window: new EventTarget(), navigator: { onLine: true } },
    });
    clients.push(rt);
    const fallbacks: string[] = [];
    rt.on('fallback', ({ reason }) => fallbacks.push(reason));
    // The app turns realtime off as soon as it sees a connection id.
    rt.subscribeState((state) => {
      if (state.connectionId !== undefined && !state.flags.emergencyDisable) {
        rt.setFlags({ emergencyDisable: true });
      }
    });
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectionCount).toBe(0);
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    // No second `fallback` when the next gate check finds it "running" again.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fallbacks).toEqual(['emergency_disable']);
  });
});
