import { describe, expect, it } from 'vitest';
import {
  leaderOverlaps,
  openTabs,
  orgConnections,
  publishTasks,
  runProblems,
  setUpServerAndChromium,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// Five tabs of one browser (pages of one context) elect one leader, which
// holds the browser's one connection and relays every event to the others.

const env = setUpServerAndChromium();

describe('election in real Chromium', () => {
  it('5 tabs: one connection, one leader all agree on, every event exactly once in every tab', async () => {
    const org = 'org_election';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs = await openTabs(context, env.server.origin, 5, { org }, errors);

    await waitUntil(
      async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
      { message: 'every tab connected' },
    );
    // Let a duplicate connection (if any) show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const connections = orgConnections(env.server, org);
    expect(connections.length).toBe(1);
    expect(connections[0]!.transport).toBe('websocket');

    const states = await Promise.all(tabs.map(tabState));
    expect(states.map((s) => s.electionStrategy)).toEqual(Array(5).fill('locks'));
    const leaders = states.filter((s) => s.isLeader);
    expect(leaders.length).toBe(1);
    const leaderTabId = leaders[0]!.tabId;
    expect(states.map((s) => s.leaderTabId)).toEqual(Array(5).fill(leaderTabId));
    expect(new Set(states.map((s) => s.tabId)).size).toBe(5);
    // Followers mirror the leader's connection.
    expect(states.map((s) => s.connectionId)).toEqual(Array(5).fill(connections[0]!.connectionId));

    const last = publishTasks(env.server, org, 100);
    expect(last).toBe(100);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.length >= 100),
      { message: 'every tab has 100 events' },
    );
    // Anything extra (a duplicate) would arrive right after: give it the time.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const tab of tabs) {
      expect(runProblems(await tabSeqs(tab), 1, 100)).toEqual([]);
      const state = await tabState(tab);
      expect(state.byServiceDelivered.tasks).toBe(100);
      expect(state.cursor.tasks).toBe(100);
    }

    expect(orgConnections(env.server, org).length).toBe(1);
    const data = await Promise.all(tabs.map(tabData));
    expect(leaderOverlaps(Object.fromEntries(data.map((d, i) => [`tab${i}`, d.samples])))).toEqual([]);
    expect(data.flatMap((d) => d.errors)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
