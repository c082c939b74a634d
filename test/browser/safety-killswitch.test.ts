import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openSafetyTab,
  orgConnections,
  publishTasks,
  runProblems,
  safetyData,
  setPageFlags,
  setUpServerAndChromium,
  startSafetyServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// The kill switch: `setFlags({ emergencyDisable: true })` in any tab turns
// realtime off in every tab of the browser at once (each fires `fallback`),
// and the browser's one connection is closed; lifting it brings it back.

const env = setUpServerAndChromium(startSafetyServer);

describe('emergency kill switch in real Chromium', () => {
  it('3 tabs: set in a follower → every tab disabled with a fallback within 1 s, 0 connections; lifted → 1 connection', async () => {
    const org = 'org_killswitch';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openSafetyTab(context, env.server.origin, { org }, errors));

    await waitUntil(
      async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
      { message: 'every tab connected' },
    );
    await waitUntil(() => orgConnections(env.server, org).length === 1, { message: '1 connection' });
    publishTasks(env.server, org, 5);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.length >= 5),
      {
        message: 'every tab has 5 events',
      },
    );

    const states = await Promise.all(tabs.map(tabState));
    const follower = tabs[states.findIndex((s) => !s.isLeader)]!;
    expect(states.filter((s) => s.isLeader).length).toBe(1);

    // ── kill ──
    const serverStart = performance.now();
    const flippedAt = await setPageFlags(follower, { emergencyDisable: true });
    await waitUntil(
      async () => {
        const data = await Promise.all(tabs.map(safetyData));
        return data.every((d) => d.disabledAt !== undefined && d.fallbacks.length > 0);
      },
      { timeoutMs: 3000, intervalMs: 10, message: 'every tab disabled with a fallback event' },
    );
    await waitUntil(() => orgConnections(env.server, org).length === 0, {
      timeoutMs: 3000,
      intervalMs: 5,
      message: '0 connections at the server',
    });
    const serverMs = performance.now() - serverStart;

    const data = await Promise.all(tabs.map(safetyData));
    const tabMs = data.map((d) => Math.max(d.disabledAt! - flippedAt, d.fallbacks[0]!.at - flippedAt));
    for (const ms of tabMs) expect(ms).toBeLessThan(1000);
    // Measured from the test, including the page round trip: the socket is gone at the server too.
    expect(serverMs).toBeLessThan(1000);
    for (const d of data)
      expect(d.fallbacks).toEqual([{ reason: 'emergency_disable', at: expect.any(Number) }]);
    for (const state of await Promise.all(tabs.map(tabState))) {
      expect(state.status).toBe('disabled');
      expect(state.disabledReason).toBe('emergency_disable');
      expect(state.flags.emergencyDisable).toBe(true);
      expect(state.transport).toBeUndefined();
      expect(state.connectionId).toBeUndefined();
    }
    // It stays off: no tab reconnects on its own (nor takes over as leader and connects).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(orgConnections(env.server, org).length).toBe(0);
    // Events published while off reach nobody.
    publishTasks(env.server, org, 3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) expect(await tabSeqs(tab)).toEqual([1, 2, 3, 4, 5]);

    // ── lift (from another tab than the one that set it) ──
    await setPageFlags(tabs.find((t) => t !== follower)!, { emergencyDisable: false });
    await waitUntil(
      async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
      { message: 'every tab connected again' },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(orgConnections(env.server, org).length).toBe(1);
    for (const state of await Promise.all(tabs.map(tabState))) {
      expect(state.disabledReason).toBeUndefined();
      expect(state.flags.emergencyDisable).toBe(false);
    }
    // The stream resumes from the cursor: what was published while off, then new events.
    publishTasks(env.server, org, 2);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.length >= 10),
      {
        message: 'every tab has 10 events',
      },
    );
    for (const tab of tabs) expect(runProblems(await tabSeqs(tab), 1, 10)).toEqual([]);
    // No second fallback on lifting.
    for (const d of await Promise.all(tabs.map(safetyData))) expect(d.fallbacks.length).toBe(1);

    expect((await Promise.all(tabs.map(safetyData))).flatMap((d) => d.errors)).toEqual([]);
    expect(errors).toEqual([]);
    console.log(
      `kill switch: tabs disabled after ${tabMs.join(', ')} ms; server 0 connections after ${Math.round(serverMs)} ms`,
    );
    await context.close();
  });
});
