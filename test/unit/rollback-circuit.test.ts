import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { RealtimeOptions } from '../../src/options';
import { createFakeBrowser, type FakeBrowser, globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { formerLeaderWithOpenCircuit } from './former-leader';
import { memoryOptions } from './react/helpers';

// The rollback guard's "circuit open longer than circuitOpenMs" rule must
// measure a circuit this tab is actually trying to get through. A breaker
// left open (it moves to half-open on its timer and waits there for a probe
// that never comes) while the tab holds no connection — realtime switched
// off by a flag, or the tab now a follower — says nothing about the network,
// yet it used to trip the guard for the rest of the session.

const clients: RealtimeClient[] = [];
let browser: FakeBrowser | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  await browser?.close();
  browser = undefined;
  vi.useRealTimers();
});

function setup(options: Partial<RealtimeOptions> = {}) {
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  const rt = createRealtime(
    memoryOptions(backend, { ...options, platform: { clock: globalTimersClock, random: () => 0.5 } }),
  );
  clients.push(rt);
  return { rt, backend };
}

describe('rollback guard and a circuit left open while not connecting', () => {
  it('lifting the kill switch reconnects, even if the circuit was open when it was thrown', async () => {
    const { rt, backend } = setup();
    const fallbacks: string[] = [];
    rt.on('fallback', ({ reason }) => fallbacks.push(reason));
    backend.failNextConnects(1000);
    rt.subscribe('tasks', () => {});
    // The backend is down: failed attempts open the circuit.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().circuit.state).not.toBe('closed');

    // The incident: ops throws the kill switch, fixes the backend, lifts it.
    rt.setFlags({ emergencyDisable: true });
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    backend.failNextConnects(0);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    rt.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(5_000);

    // Nothing was tried while off: no reason of the guard's to stay off.
    expect(rt.getState().rollback.state).toBe('ok');
    expect(rt.getState()).toMatchObject({ status: 'connected' });
    expect(fallbacks).toEqual(['emergency_disable']);
  });

  it('a follower whose own breaker was left open as leader keeps receiving events', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const a = browser.tab({ idleGraceMs: 0 });
    const seqs: number[] = [];
    await formerLeaderWithOpenCircuit(browser, a, (events) => {
      for (const e of events) seqs.push(e.seq);
    });
    await vi.advanceTimersByTimeAsync(6 * 60_000);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);

    expect(a.getState().rollback.state).toBe('ok');
    expect(a.getState().status).toBe('connected');
    expect(seqs).toEqual([1]);
  });
});
