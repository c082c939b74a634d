import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SliReport } from '../../src/observability/telemetry-payload';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// Takeover time (docs/observability.md): "How long the browser was without a
// connection when a leader was replaced", from the election won to this
// tab's own welcome. Time realtime was switched off on purpose (the kill
// switch) is not a takeover's: counting it puts the kill switch's whole
// duration into takeoverP95/P99 and pages for a takeover that never lagged.

let browser: FakeBrowser | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  vi.useRealTimers();
});

describe('takeover time', () => {
  it('does not include the time a kill switch kept realtime off', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const a = browser.tab();
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    const b = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    const reports: SliReport[] = [];
    b.on('sli', (report) => reports.push(report));
    b.subscribe('tasks', () => {});
    await vi.dynamicImportSettled(); // the SLI collector
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState().isLeader).toBe(true);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    // Ops throws the kill switch; while it is on, the leader tab is closed.
    b.setFlags({ emergencyDisable: true });
    await vi.advanceTimersByTimeAsync(100);
    await a.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ isLeader: true, status: 'disabled' });

    // Half an hour later it is lifted: B connects at once.
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.getState().status).toBe('connected');

    const { lastTakeoverMs } = b.getState().leader;
    expect(lastTakeoverMs === undefined || lastTakeoverMs < 5_000).toBe(true);
    const takeover = reports.at(-1)!.sli.takeoverTimeMs as { max: number } | undefined;
    expect(takeover === undefined || takeover.max < 5_000).toBe(true);
    expect(b.getState().slo.takeoverP95Ms?.ok).not.toBe(false);
  });
});
