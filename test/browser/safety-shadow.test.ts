import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { sliReportSchema } from '../../src/observability/telemetry-payload';
import {
  openSafetyTab,
  orgConnections,
  publishTasks,
  safetyData,
  setPageFlags,
  setUpServerAndChromium,
  startSafetyServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// Shadow mode: the connection runs and every tab measures its SLIs, but no
// handler is ever called. Waits for the client's first 10 s SLI tick (the
// `sli` event and the state's SLI figures are refreshed there), so this file
// takes ~12 s.

const env = setUpServerAndChromium(startSafetyServer);

/** Events in a sketch as it travels: the bucket form's counts, or a summary's `count`. */
function sketchCount(sketch: unknown): number {
  const s = sketch as { zeroCount?: number; counts?: number[]; count?: number };
  if (Array.isArray(s.counts)) return (s.zeroCount ?? 0) + s.counts.reduce((a, b) => a + b, 0);
  return s.count ?? 0;
}

describe('shadow mode in real Chromium', () => {
  it('2 tabs: events flow and are measured, no handler is called', async () => {
    const org = 'org_shadow';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs: Page[] = [];
    for (let i = 0; i < 2; i++)
      tabs.push(await openSafetyTab(context, env.server.origin, { org, shadow: true }, errors));

    await waitUntil(
      async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
      { message: 'every tab connected' },
    );
    for (const state of await Promise.all(tabs.map(tabState))) expect(state.flags.shadowMode).toBe(true);
    expect(orgConnections(env.server, org).length).toBe(1);

    const n = 20;
    publishTasks(env.server, org, n);
    // The stream runs: every tab's cursor reaches the last seq.
    await waitUntil(async () => (await Promise.all(tabs.map(tabState))).every((s) => s.cursor.tasks === n), {
      message: `every tab's cursor at ${n}`,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) expect(await tabSeqs(tab)).toEqual([]);

    // The first SLI tick comes 10 s after the tab subscribed.
    await waitUntil(
      async () => (await Promise.all(tabs.map(safetyData))).every((d) => d.sliReports.length > 0),
      {
        timeoutMs: 15_000,
        intervalMs: 100,
        message: 'an sli event in every tab',
      },
    );
    const data = await Promise.all(tabs.map(safetyData));
    const states = await Promise.all(tabs.map(tabState));
    for (let i = 0; i < tabs.length; i++) {
      const d = data[i]!;
      const state = states[i]!;
      // Still no handler call, in any tab.
      expect(d.seqs.tasks).toEqual([]);
      const parsed = sliReportSchema.safeParse(d.sliReports[d.sliReports.length - 1]);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      const report = parsed.data!;
      // Every event this tab received was measured (leader and follower alike) …
      expect(report.sli.eventDeliveryLatencyMs).toBeDefined();
      expect(sketchCount(report.sli.eventDeliveryLatencyMs)).toBe(n);
      expect(report.byService.tasks?.p95LatencyMs).toEqual(expect.any(Number));
      // … and none was handed to a handler.
      expect(report.byService.tasks?.delivered).toBe(0);
      expect(state.byServiceDelivered.tasks ?? 0).toBe(0);
      expect(state.sli.deliveryP50Ms).toEqual(expect.any(Number));
      expect(state.byServiceP95LatencyMs.tasks).toEqual(expect.any(Number));
      expect(state.cursor.tasks).toBe(n);
    }

    // Out of shadow mode (every tab at once), handlers get the events that come next.
    await setPageFlags(tabs[0]!, { shadowMode: false });
    await waitUntil(async () => (await Promise.all(tabs.map(tabState))).every((s) => !s.flags.shadowMode), {
      message: 'shadow mode off in every tab',
    });
    publishTasks(env.server, org, 3);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.length >= 3),
      {
        message: 'every tab has the 3 new events',
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) expect(await tabSeqs(tab)).toEqual([n + 1, n + 2, n + 3]);

    expect(orgConnections(env.server, org).length).toBe(1);
    expect((await Promise.all(tabs.map(safetyData))).flatMap((d) => d.errors)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
