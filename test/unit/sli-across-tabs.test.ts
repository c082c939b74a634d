import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SliReport } from '../../src/observability/telemetry-payload';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { formerLeaderWithOpenCircuit } from './former-leader';

// SLIs of tabs that share one connection: what a follower, a former leader
// or a tab with realtime switched off reports must describe its own share.

let browser: FakeBrowser | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  vi.useRealTimers();
});

// circuitOpenPercent and the circuitOpen alert are connection SLIs: they
// must describe a breaker this tab is actually driving. Only the leader
// holds the connection (DESIGN.md: "only the leader reports connection
// SLIs"), so a follower's figures must not pick up the leader's circuit,
// and a breaker a stopped loop left open must not keep accruing open time.
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
    await formerLeaderWithOpenCircuit(browser, a);

    await vi.advanceTimersByTimeAsync(30 * 60_000);
    // A's stale breaker (half-open, waiting for a probe that never comes)
    // says nothing about the network: no critical page, and the open share
    // is the ~15 s it really tried, not half an hour.
    expect(a.getState().alerts.map((alert) => alert.name)).not.toContain('circuitOpen');
    expect(reports.at(-1)!.sli.circuitOpenPercent).toBeLessThan(5);
  });
});

// Delivery latency is measured against the server's clock: `now + offset −
// event.ts`, with the offset estimated at `welcome`. docs/observability.md:
// "A follower takes the offset from the welcome the leader relays … A client
// clock minutes off therefore still measures the true delay." A follower
// that opens after the leader's welcome (the usual second tab) never sees
// that welcome, so it must still learn the offset, else every latency it
// reports is off by the machine's clock error.
describe('a follower that joins after the welcome measures against the server clock', () => {
  it.each([
    ['ahead', 300_000],
    ['behind', -300_000],
  ])('with the machine clock 5 minutes %s', async (_, skewMs) => {
    const serverNow = () => Date.now();
    browser = createFakeBrowser({
      backend: createMemoryBackend({ heartbeatMs: 60_000, now: serverNow }),
      // One machine: every tab has the same (wrong) wall clock.
      defaults: { platform: { wallClock: () => Date.now() + skewMs } },
    });
    const a = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    // The second tab opens later: the leader's welcome is long gone.
    const b = browser.tab({ telemetry: { measure: 'always', sampleRate: 0 } });
    b.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    for (let i = 0; i < 20; i++) {
      // Each event happened 40 ms before it is delivered, by the server's clock.
      browser.backend.publish({ service: 'tasks', ts: serverNow() - 40 });
    }
    await vi.advanceTimersByTimeAsync(10_000);
    for (const tab of [a, b]) {
      const { deliveryP50Ms } = tab.getState().sli;
      expect(deliveryP50Ms).toBeGreaterThan(38);
      expect(deliveryP50Ms).toBeLessThan(42);
    }
  });
});

// Takeover time (docs/observability.md): "How long the browser was without a
// connection when a leader was replaced", from the election won to this
// tab's own welcome. Time realtime was switched off on purpose (the kill
// switch) is not a takeover's: counting it puts the kill switch's whole
// duration into takeoverP95/P99 and pages for a takeover that never lagged.
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
