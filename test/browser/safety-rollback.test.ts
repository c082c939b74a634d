import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openSafetyTab,
  orgConnections,
  publishTasks,
  runProblems,
  type SafetyParams,
  safetyData,
  setUpServerAndChromium,
  sleep,
  startSafetyServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// The auto-rollback guard across real tabs: the leader's guard trips (the
// server refuses its reconnects), every tab goes `disabled` with
// `auto_rollback` and hears `fallback` once; a tab opened while tripped
// starts off; the tripped leader's tab closing neither loses the trip (the
// next leader must not reconnect into the failing server at once) nor makes
// it stuck (off until the trip's cooldown ends, as it would have been); then
// one connection and every event, once, in order, in every tab.
//
// Option values: WebSocket only (each attempt is one WebSocket the browser
// opens: counted per page); a short backoff and a breaker that opens after 3
// failures, for 100 then 200 ms, so the failing attempts come quickly;
// circuitOpenMs 1000, so a server refusing for a second trips `circuit_open`
// (refused attempts are no errors of the rate: the default rates stay);
// cooldownMs 5000: long enough to open a tab and close another while
// tripped on a loaded machine, short enough for the test.

const env = setUpServerAndChromium(startSafetyServer);
const COOLDOWN_MS = 5000;

const options = {
  transports: ['websocket'],
  backoff: { baseMs: 10, capMs: 50 },
  circuit: { failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 200 },
  rollback: {
    circuitOpenMs: 1000,
    cooldownMs: COOLDOWN_MS,
  },
};

/** Every WebSocket the pages of `context` open (their connection attempts), with the page's index. */
function countWebSockets(context: BrowserContext): Array<{ page: Page; at: number }> {
  const sockets: Array<{ page: Page; at: number }> = [];
  context.on('page', (page) => page.on('websocket', () => sockets.push({ page, at: performance.now() })));
  return sockets;
}

describe('auto-rollback across real Chromium tabs', () => {
  it("3 tabs: the leader's guard trips → every tab disabled once; a new tab starts tripped; the tripped leader closing keeps the trip until its cooldown ends; then 1 connection, nothing lost", async () => {
    const org = 'org_rollback_tabs';
    const params: SafetyParams = { org, options };
    const context = await env.browser.newContext();
    const sockets = countWebSockets(context);
    const errors: string[] = [];
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openSafetyTab(context, env.server.origin, params, errors));
    await waitUntil(
      async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
      { message: 'every tab connected' },
    );
    await waitUntil(() => orgConnections(env.server, org).length === 1, { message: '1 connection' });
    publishTasks(env.server, org, 3);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.length >= 3),
      {
        message: 'every tab has 3 events',
      },
    );
    const leaderIndex = (await Promise.all(tabs.map(tabState))).findIndex((s) => s.isLeader);
    const leader = tabs[leaderIndex]!;
    const followers = tabs.filter((t) => t !== leader);

    // ── the server refuses every reconnect: the leader's guard trips ──
    env.server.faults.refuseWebSocket(true);
    env.server.faults.dropConnections();
    publishTasks(env.server, org, 3); // 4..6
    await waitUntil(
      async () => (await Promise.all(tabs.map(safetyData))).every((d) => d.fallbacks.length > 0),
      { timeoutMs: 5000, intervalMs: 10, message: 'every tab heard fallback' },
    );
    const trippedAt = performance.now();
    const leaderState = await tabState(leader);
    expect(leaderState.rollback).toMatchObject({ state: 'tripped', reason: 'circuit_open' });
    for (const state of await Promise.all(tabs.map(tabState))) {
      expect(state).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
      expect(state.transport).toBeUndefined();
    }
    const attemptsAtTrip = sockets.length;

    // ── a tab opened while tripped starts tripped ──
    const late = await openSafetyTab(context, env.server.origin, params, errors);
    await waitUntil(async () => (await safetyData(late)).fallbacks.length > 0, {
      message: 'the late tab heard fallback',
    });
    expect(await tabState(late)).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    const all = [...followers, late];

    // ── the tripped leader's tab closes: the trip stays ──
    await leader.close();
    await waitUntil(async () => (await Promise.all(all.map(tabState))).some((s) => s.isLeader), {
      message: 'a new leader',
    });
    // Still off, in every tab, and nobody tries the server, which still refuses.
    await sleep(500);
    for (const state of await Promise.all(all.map(tabState)))
      expect(state).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(sockets.length).toBe(attemptsAtTrip);

    // ── the server recovers; the trip still ends when its cooldown does ──
    env.server.faults.refuseWebSocket(false);
    publishTasks(env.server, org, 3); // 7..9
    const quietUntil = trippedAt + COOLDOWN_MS - 1000;
    while (performance.now() < quietUntil) {
      expect(sockets.length).toBe(attemptsAtTrip);
      expect(orgConnections(env.server, org).length).toBe(0);
      await sleep(100);
    }
    await waitUntil(
      async () => (await Promise.all(all.map(tabState))).every((s) => s.status === 'connected'),
      { timeoutMs: 5000, message: 'every tab connected after the cooldown' },
    );
    const liftedAfterMs = performance.now() - trippedAt;
    // Not stuck either: the first trip's cooldown, not a new one from the takeover.
    expect(liftedAfterMs).toBeLessThan(COOLDOWN_MS + 2500);
    await sleep(300);
    expect(orgConnections(env.server, org).length).toBe(1);
    expect(sockets.length).toBe(attemptsAtTrip + 1);
    for (const state of await Promise.all(all.map(tabState))) {
      expect(state.disabledReason).toBeUndefined();
      expect(state.rollback.state).not.toBe('tripped');
    }

    publishTasks(env.server, org, 1); // 10
    await waitUntil(
      async () => (await Promise.all(all.map((t) => tabSeqs(t)))).every((s) => s.includes(10)),
      {
        message: 'every tab has event 10',
      },
    );
    await sleep(100);
    for (const tab of followers) expect(runProblems(await tabSeqs(tab), 1, 10)).toEqual([]);
    // Opened after 1..6 were delivered: it starts at the cursor the leader had then.
    expect(runProblems(await tabSeqs(late), 4, 10)).toEqual([]);
    // One fallback per tab for the one trip.
    for (const d of await Promise.all(all.map(safetyData)))
      expect(d.fallbacks.map((f) => f.reason)).toEqual(['auto_rollback']);
    expect((await Promise.all(all.map(safetyData))).flatMap((d) => d.errors)).toEqual([]);
    expect(errors).toEqual([]);
    console.log(
      `rollback across tabs: back ${Math.round(liftedAfterMs)} ms after the trip (cooldown ${COOLDOWN_MS})`,
    );
    await context.close();
  });
});
