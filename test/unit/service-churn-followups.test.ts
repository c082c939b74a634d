import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import type { Transport } from '../../src/transports/types';

const clients: RealtimeClient[] = [];
function client(transport: Transport): RealtimeClient {
  const rt = createRealtime({
    url: 'http://tabwire.test/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [transport],
    leader: { strategy: 'none' },
    devtools: false,
    platform: { clock: globalTimersClock, random: () => 0.5 },
  });
  clients.push(rt);
  return rt;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('figures of services left', () => {
  it('keeps the figures of the service left last, however early it was first subscribed', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    const offTasks = rt.subscribe('tasks', () => {});
    rt.subscribe('home', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    for (let i = 0; i < 70; i++) {
      const off = rt.subscribe(`record:${i}`, () => {});
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: `record:${i}` });
      off();
    }
    await vi.advanceTimersByTimeAsync(0);
    // 'tasks' is the service left last: its figures are among the latest 64.
    offTasks();
    await vi.advanceTimersByTimeAsync(0);
    const state = rt.getState();
    expect(state.byServiceDelivered.tasks).toBe(1);
    expect(Object.keys(state.byServiceDelivered)).toHaveLength(64);
  });
});

describe('a service back in the union', () => {
  // Not a defect, the cost of the design: over a stream, each return of a
  // service that had events while out is one reconnect (counted in
  // counters.reconnects), never more, and nothing is lost or repeated.
  it('reconnects once per return with missed events, never in a loop', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    const got: number[] = [];
    let off = rt.subscribe('record', (events) => got.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record' });
    const before = backend.connectCount;
    for (let i = 0; i < 5; i++) {
      off();
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'record' });
      off = rt.subscribe('record', (events) => got.push(...events.map((e) => e.seq)));
      await vi.advanceTimersByTimeAsync(3_000);
    }
    await vi.advanceTimersByTimeAsync(30_000);
    expect(backend.connectCount - before).toBe(5);
    expect(rt.getState().counters.reconnects).toBe(5);
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
    expect(backend.connectionCount).toBe(1);
  });
});

describe('per-service latency of services left', () => {
  it('keeps no more p95 figures than the other per-service figures', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = createRealtime({
      url: 'http://tabwire.test/v2/realtime',
      scope: { orgId: 'org_test', userId: 'u_1' },
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { measure: 'always', sampleRate: 0 },
      platform: { clock: globalTimersClock, random: () => 0.5 },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 100; i++) {
      const off = rt.subscribe(`record:${i}`, () => {});
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: `record:${i}` });
      off();
    }
    await vi.advanceTimersByTimeAsync(60_000);
    const state = rt.getState();
    expect(state.sli.measured).toBe(true);
    expect(Object.keys(state.byServiceDelivered)).toHaveLength(64);
    // Was one per service ever delivered, evaluated and copied every tick, and
    // a sketch each kept by the collector: the pruning undone for this figure.
    expect(Object.keys(state.byServiceP95LatencyMs).sort()).toEqual(
      Object.keys(state.byServiceDelivered).sort(),
    );
  });
});
