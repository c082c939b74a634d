import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { SliReport } from '../../src/observability/telemetry-payload';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// Found by the review of ff7e38e (the reporter moved into sli-measurement):
// startMeasuring now marks `sli.measured` before it returns, so the app's
// state listeners run while the client has no `measurement` yet. The
// circuit is told to the collector directly (`measurement?.sli.circuit`, not
// through the backlog): a listener that stops the connection there (a kill
// switch) leaves the collector believing the circuit open until the next
// SLI tick, and the session reports open time it never had.

const clients: RealtimeClient[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('a state listener that runs as measuring starts', () => {
  it('closing the circuit there reaches the collector', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = createRealtime(
      memoryOptions(backend, {
        connectTimeoutMs: 800,
        backoff: { baseMs: 10, capMs: 20 },
        circuit: { failureThreshold: 1, cooldownMs: 600_000, maxCooldownMs: 600_000 },
        platform: { clock: globalTimersClock, random: () => 0.5 },
      }),
    );
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.silence(true);
    backend.drop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(rt.getState().circuit.state).toBe('open');

    let switched = false;
    rt.subscribeState((state) => {
      if (state.sli.measured && !switched) {
        switched = true;
        // Stops the loop: from now the circuit counts as closed.
        rt.setFlags({ emergencyDisable: true });
      }
    });
    const reports: SliReport[] = [];
    // The first `sli` listener starts measuring in this (unsampled) tab.
    rt.on('sli', (report) => reports.push(report));
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    expect(switched).toBe(true);
    expect(rt.getState().status).toBe('disabled');

    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports.length).toBeGreaterThan(0);
    // Closed since the collector started: no open time.
    expect(reports.at(-1)!.sli.circuitOpenPercent).toBe(0);
  });
});
