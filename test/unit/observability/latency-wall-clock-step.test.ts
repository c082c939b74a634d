import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Clock } from '../../../src/clock';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

// The wall clock can be stepped while a connection lives (an NTP correction,
// the user setting the time): the offset to the server's clock, estimated at
// the welcome, must still give the true delay until the next welcome.

const clients: RealtimeClient[] = [];

// The monotonic clock, which no wall-clock step moves.
const clock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance', 'queueMicrotask'] });
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

it.each([
  ['ahead', 3_600_000],
  ['back', -3_600_000],
])('measures the true delivery latency after the wall clock is stepped an hour %s', async (_, stepMs) => {
  const serverNow = () => Date.now();
  const backend = createMemoryBackend({ heartbeatMs: 60_000, now: serverNow });
  let step = 0;
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_obs', userId: 'u_1' },
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { measure: 'always' },
    platform: { clock, wallClock: () => Date.now() + step, random: () => 0.5 },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(0);
  expect(rt.getState().status).toBe('connected');
  // Stepped after the welcome; the connection lives on, so no new estimate.
  step = stepMs;
  for (let i = 0; i < 20; i++) backend.publish({ service: 'tasks', ts: serverNow() - 40 });
  // A service subscribed after the step: its latency counts from then at
  // most, a time the offset must read right too.
  rt.subscribe('notes', () => {});
  await vi.advanceTimersByTimeAsync(1000);
  for (let i = 0; i < 20; i++) backend.publish({ service: 'notes', ts: serverNow() - 40 });
  await vi.advanceTimersByTimeAsync(10_000);
  const { sli, byServiceP95LatencyMs } = rt.getState();
  expect(sli.deliveryP50Ms).toBeGreaterThan(38);
  expect(sli.deliveryP50Ms).toBeLessThan(42);
  expect(sli.deliveryP99Ms).toBeLessThan(42);
  expect(byServiceP95LatencyMs).toEqual({ tasks: 40, notes: 40 });
});
