import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type SliReport, sliReportSchema } from '../../src/observability/telemetry-payload';
import { globalTimersClock as clock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// Service names such as `toString` or `valueOf` pass SERVICE_NAME_PATTERN
// (only `__proto__`, `constructor` and `prototype` are refused), yet name a
// member every plain object inherits. The per-service counters of the state
// read `counts[service] ?? 0`, which found Object.prototype's function and
// added to it: `byServiceDelivered.toString` became the string
// "function toString() { [native code] }1", as did the count of a server's
// events of such a service that the tab did not subscribe to.

const clients: RealtimeClient[] = [];
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

function setup() {
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
  return { rt, backend };
}

const event = (service: string, seq: number) => ({
  service,
  entityType: 'task',
  type: 'task.updated',
  eventId: `e${seq}`,
  seq,
  ts: 1,
  orgId: 'org_test',
});

describe('per-service counters of services named like Object.prototype members', () => {
  it.each(['toString', 'valueOf', 'hasOwnProperty'])('count the events of %s as numbers', async (service) => {
    const { rt, backend } = setup();
    const seqs: number[] = [];
    rt.subscribe(service, (events) => seqs.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    backend.publish({ service });
    backend.publish({ service });
    expect(seqs).toEqual([1, 2]);
    expect(rt.getState().byServiceDelivered[service]).toBe(2);
    // A replay of both: their overlap is suppressed, and counted as such.
    backend.sendRaw({
      type: 'batch',
      events: [event(service, 1), event(service, 2)],
      after: { [service]: 0 },
      cursor: { [service]: 2 },
    });
    expect(rt.getState().byServiceSuppressed[service]).toBe(2);
    expect(Object.hasOwn(rt.getState().byServiceReconnects, service)).toBe(false);
  });

  it("counts a server's events of such a service the tab did not subscribe to as numbers", async () => {
    const { rt, backend } = setup();
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.sendRaw({
      type: 'batch',
      events: [event('toString', 1), event('toString', 2)],
      after: { toString: 0 },
      cursor: { toString: 2 },
    });
    expect(rt.getState().byServiceSuppressed).toEqual({ toString: 2 });
  });

  it('counts reconnects of such a service as numbers', async () => {
    const { rt, backend } = setup();
    rt.subscribe('valueOf', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.drop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(rt.getState().status).toBe('connected');
    expect(rt.getState().byServiceReconnects).toEqual({ valueOf: 1 });
  });

  it('report such a service in the SLI report with numbers only', async () => {
    const { rt, backend } = setup();
    rt.subscribe('tasks', () => {});
    const reports: SliReport[] = [];
    rt.on('sli', (report) => reports.push(report));
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks', ts: Date.now() - 40 });
    backend.sendRaw({
      type: 'batch',
      events: [event('toString', 1), event('toString', 2)],
      after: { toString: 0 },
      cursor: { toString: 2 },
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.byService.toString).toStrictEqual({ delivered: 0, suppressed: 2 });
    expect(sliReportSchema.safeParse(reports[0]).success).toBe(true);
  });

  it('keep no inherited member in the figures of such a service once it is left', async () => {
    const { rt } = setup();
    const off = rt.subscribe('toString', () => {});
    await vi.advanceTimersByTimeAsync(0);
    rt.subscribe('tasks', () => {});
    off();
    await vi.advanceTimersByTimeAsync(0);
    const state = rt.getState();
    for (const key of ['byServiceDelivered', 'byServiceSuppressed', 'byServiceReconnects'] as const) {
      expect([key, Object.hasOwn(state[key], 'toString')]).toEqual([key, false]);
    }
  });
});
