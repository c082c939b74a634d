import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SliReport } from '../../src/observability/telemetry-payload';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// circuitOpenPercent and the circuitOpen alert are connection SLIs: they
// must describe a breaker this tab is actually driving. Only the leader
// holds the connection (DESIGN.md: "only the leader reports connection
// SLIs"), so a follower's figures must not pick up the leader's circuit,
// and a breaker a stopped loop left open must not keep accruing open time.

let browser: FakeBrowser | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  vi.useRealTimers();
});

describe('circuit SLIs belong to the tab that drives the breaker', () => {
  it('a follower that starts measuring while the leader circuit is open does not stay open for ever', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const a = browser.tab();
    browser.backend.failNextConnects(1000);
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.getState()).toMatchObject({ isLeader: true });
    expect(a.getState().circuit.state).not.toBe('closed');

    const b = browser.tab();
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState().isLeader).toBe(false);
    // The follower mirrors the leader's circuit (that is its state's job) …
    expect(b.getState().circuit.state).not.toBe('closed');
    // … and then a dashboard starts listening to its SLIs.
    const reports: SliReport[] = [];
    b.on('sli', (report) => reports.push(report));
    await vi.dynamicImportSettled();

    // The backend recovers at once: the leader's circuit closes.
    browser.backend.failNextConnects(0);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(a.getState()).toMatchObject({ status: 'connected', circuit: { state: 'closed' } });
    expect(b.getState()).toMatchObject({ status: 'connected', circuit: { state: 'closed' } });

    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const last = reports.at(-1)!;
    // The follower's own breaker was never open: nothing to report.
    expect(b.getState().alerts.map((alert) => alert.name)).not.toContain('circuitOpen');
    expect(last.sli.circuitOpenPercent).toBe(0);
  });

  it('a former leader whose breaker a stopped loop left open stops accruing circuit-open time', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const a = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    const reports: SliReport[] = [];
    a.on('sli', (report) => reports.push(report));
    await vi.dynamicImportSettled(); // the SLI collector
    browser.backend.failNextConnects(1000);
    const offA = a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.getState().isLeader).toBe(true);
    expect(a.getState().circuit.state).not.toBe('closed');

    // A goes idle; B leads with a healthy connection; A comes back as follower.
    offA();
    await vi.advanceTimersByTimeAsync(100);
    browser.backend.failNextConnects(0);
    const b = browser.tab();
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    await vi.advanceTimersByTimeAsync(30 * 60_000);
    // A's stale breaker (half-open, waiting for a probe that never comes)
    // says nothing about the network: no critical page, and the open share
    // is the ~15 s it really tried, not half an hour.
    expect(a.getState().alerts.map((alert) => alert.name)).not.toContain('circuitOpen');
    expect(reports.at(-1)!.sli.circuitOpenPercent).toBeLessThan(5);
  });
});
