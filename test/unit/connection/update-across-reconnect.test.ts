import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { globalTimersClock as fakeClock } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import type { Transport } from '../../../src/transports/types';

// An in-place update still in flight on a connection that dropped
// (or that a follower's replay request cut) kept the loop's update state
// busy; an update asked for on the next connection was parked behind it and
// dropped when the old answer came back for the old generation. The new
// subscriber's service was never added to the live connection.

const clients: RealtimeClient[] = [];
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('update in flight across a reconnect', () => {
  it('sends the update asked for on the new connection', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    // Updates (the POST) take 1 s.
    const slow: Transport = {
      name: 'memory',
      async connect(ctx) {
        const conn = await backend.transport.connect(ctx);
        return {
          ...conn,
          update: (services, propertyIds) =>
            new Promise((resolve) => setTimeout(() => resolve(conn.update(services, propertyIds)), 1000)),
          close: () => conn.close(),
        };
      },
    };
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope: { orgId: 'org_test', userId: 'u_1' },
      transports: [slow],
      backoff: { baseMs: 100, capMs: 100 },
      devtools: false,
      leader: { strategy: 'none' },
      telemetry: { sampleRate: 0 },
      platform: {
        clock: fakeClock,
        random: () => 0.5,
        window: new EventTarget(),
        navigator: { onLine: true },
      },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    rt.subscribe('finance', () => {}); // update 1 in flight for 1 s
    await vi.advanceTimersByTimeAsync(10);
    backend.drop();
    await vi.advanceTimersByTimeAsync(200); // reconnected, with finance
    expect(rt.getState().status).toBe('connected');
    const billing: number[] = [];
    rt.subscribe('billing', (events) => billing.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(3000);
    backend.publish({ service: 'billing' });
    expect(billing).toEqual([1]);
  });
});
