import { describe, expect, it } from 'vitest';
import { type SliReport, sliReportSchema } from '../../src/observability/telemetry-payload';
import {
  openSafetyTab,
  publishTasks,
  setUpServerAndChromium,
  startSafetyServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// The page-lifecycle flush: a sampled tab that goes away sends its report
// with `navigator.sendBeacon`. The interval is 60 s, so a report that shows
// up within this test's few seconds can only be that flush.

const env = setUpServerAndChromium(startSafetyServer);

const reportsOf = (orgId: string): unknown[] =>
  env.server.telemetry.filter((r) => (r as { orgId?: unknown }).orgId === orgId);

describe('telemetry beacon in real Chromium', () => {
  it('closing a sampled tab delivers one report by sendBeacon', async () => {
    const org = 'org_beacon';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    // Every page of the context logs its telemetry sends (beacon or fetch) to
    // localStorage, which outlives the page: Playwright reports no network
    // request of a page that is closing, so the page itself must tell.
    await context.addInitScript(() => {
      const log = (entry: Record<string, unknown>) => {
        const all = JSON.parse(localStorage.getItem('tw:telemetry-log') ?? '[]') as unknown[];
        all.push({ ...entry, visibility: document.visibilityState });
        localStorage.setItem('tw:telemetry-log', JSON.stringify(all));
      };
      const isTelemetry = (url: unknown) => String(url).includes('/telemetry/client');
      const beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => {
        const queued = beacon(url, data);
        if (isTelemetry(url))
          log({ via: 'beacon', type: data instanceof Blob ? data.type.toLowerCase() : typeof data, queued });
        return queued;
      };
      const originalFetch = window.fetch.bind(window);
      window.fetch = (input, init) => {
        if (isTelemetry(input instanceof Request ? input.url : input)) log({ via: 'fetch' });
        return originalFetch(input, init);
      };
      addEventListener('pagehide', () => log({ via: 'pagehide' }));
    });
    const page = await openSafetyTab(
      context,
      env.server.origin,
      { org, telemetry: { sampleRate: 1, intervalMs: 60_000, url: '/telemetry/client' } },
      errors,
    );
    await waitUntil(async () => (await tabState(page)).status === 'connected', { message: 'connected' });
    expect((await tabState(page)).sli.sampled).toBe(true);

    publishTasks(env.server, org, 10);
    await waitUntil(async () => (await tabSeqs(page)).length >= 10, { message: '10 events' });
    const tabId = (await tabState(page)).tabId;
    // Nothing sent yet: the first interval is a minute away.
    expect(reportsOf(org)).toEqual([]);

    const closedAt = performance.now();
    await page.close({ runBeforeUnload: true });
    await waitUntil(() => reportsOf(org).length > 0, {
      timeoutMs: 3000,
      message: 'a telemetry report after the tab closed',
    });
    const arrivedMs = performance.now() - closedAt;
    // `visibilitychange` → hidden and `pagehide` both flush; one beacon covers them.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reportsOf(org).length).toBe(1);
    expect(arrivedMs).toBeLessThan(3000);

    const parsed = sliReportSchema.safeParse(reportsOf(org)[0]);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const report = parsed.data as SliReport;
    expect(report.type).toBe('realtime_sli');
    expect(report.tabId).toBe(tabId);
    expect(report.isLeader).toBe(true);
    expect(report.byService.tasks?.delivered).toBe(10);
    expect(report.sli.eventDeliveryLatencyMs).toBeDefined();

    // What the closed page logged: one beacon (a text/plain Blob, queued by
    // Chromium), no fetch, sent from `pagehide` (the log's own pagehide
    // listener was added first, so it comes first).
    const reader = await context.newPage();
    await reader.goto(`${env.server.origin}/__no_such_page`);
    const log = await reader.evaluate(
      () => JSON.parse(localStorage.getItem('tw:telemetry-log') ?? '[]') as Array<Record<string, unknown>>,
    );
    expect(log.map((entry) => entry.via)).toEqual(['pagehide', 'beacon']);
    expect(log[1]).toMatchObject({ type: 'text/plain;charset=utf-8', queued: true });
    console.log(
      `beacon: report arrived ${Math.round(arrivedMs)} ms after close; page log: ${JSON.stringify(log)}`,
    );

    expect(errors).toEqual([]);
    await context.close();
  });
});
