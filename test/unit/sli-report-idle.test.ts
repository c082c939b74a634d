import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { SliReport } from '../../src/observability/telemetry-payload';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// A sampled tab reports what it measured: every interval, on pagehide/hidden
// (beacon) and at close(). The reporter stops when the last subscriber
// leaves; what was measured since the last report must not be stranded
// there, or a tab that goes idle (a route without realtime) and is then
// closed never reports its last minute of deliveries.

const clients: RealtimeClient[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('a sampled tab that goes idle', () => {
  it('still reports what it measured before, by the time the page goes away', async () => {
    const bodies: SliReport[] = [];
    const fetch = vi.fn(async (_url: string, init: { body: string }) => {
      bodies.push(JSON.parse(init.body) as SliReport);
      return new Response(null, { status: 204 });
    });
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const window = new EventTarget();
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope: { orgId: 'org_obs', userId: 'u_1' },
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      idleGraceMs: 0,
      telemetry: { sampleRate: 1, intervalMs: 60_000, url: 'http://127.0.0.1:1/telemetry/client' },
      platform: { clock: globalTimersClock, random: () => 0.5, fetch: fetch as never, window },
    });
    clients.push(rt);
    const off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(rt.getState().byServiceDelivered.tasks).toBe(3);

    // The app navigates to a page without realtime, then the user closes the tab.
    off();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState().status).toBe('idle');
    window.dispatchEvent(new Event('pagehide'));
    await vi.advanceTimersByTimeAsync(100);

    expect(bodies.some((report) => report.byService.tasks?.delivered === 3)).toBe(true);
  });

  it('sends nothing more when it goes idle within FLUSH_GAP_MS of a report', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      idleGraceMs: 0,
      telemetry: { sampleRate: 1, intervalMs: 60_000, url: 'http://127.0.0.1:1/telemetry/client' },
      platform: { clock: globalTimersClock, random: () => 0.5, fetch: fetch as never },
    });
    clients.push(rt);
    const off = rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(1);
    off();
    await vi.advanceTimersByTimeAsync(100);
    expect(rt.getState().status).toBe('idle');
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
