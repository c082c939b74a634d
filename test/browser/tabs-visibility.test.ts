import { describe, expect, it } from 'vitest';
import {
  leaderOverlaps,
  openTabs,
  orgConnections,
  runProblems,
  setUpServerAndChromium,
  sleep,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// A leader stays leader through visibility changes: 50 hidden/visible flips
// in 2 s cause no election and no reconnect, and events keep flowing.

const env = setUpServerAndChromium();

describe('visibility changes in real Chromium', () => {
  it('50 visibility flips of the leader in 2 s: zero extra elections, same leader, every event once', async () => {
    const org = 'org_visibility';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs = await openTabs(context, env.server.origin, 3, { org }, errors);
    const states = () => Promise.all(tabs.map(tabState));
    await waitUntil(
      async () => {
        const all = await states();
        const connections = orgConnections(env.server, org);
        return (
          connections.length === 1 &&
          all.filter((s) => s.isLeader).length === 1 &&
          all.every((s) => s.status === 'connected' && s.connectionId === connections[0]!.connectionId)
        );
      },
      { message: 'one leader and one connection' },
    );

    const before = await states();
    const electionsBefore = before.reduce((sum, s) => sum + s.leader.elections, 0);
    const leaderIndex = before.findIndex((s) => s.isLeader);
    const leaderTabId = before[leaderIndex]!.tabId;
    const connectionsBefore = env.server.metrics().totalConnections;

    let published = 0;
    const publisher = setInterval(() => {
      published = env.server.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
    }, 40);
    try {
      await sleep(200);
      await tabs[leaderIndex]!.evaluate(async () => {
        let hidden = false;
        for (let i = 0; i < 50; i++) {
          hidden = !hidden;
          const value = hidden;
          Object.defineProperty(document, 'visibilityState', {
            configurable: true,
            get: () => (value ? 'hidden' : 'visible'),
          });
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => value });
          document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
      });
      await sleep(200);
    } finally {
      clearInterval(publisher);
    }

    const last = published;
    expect(last).toBeGreaterThan(40);
    await waitUntil(
      async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.at(-1) === last),
      {
        message: `every tab at seq ${last}`,
      },
    );
    await sleep(200);
    for (const [i, tab] of tabs.entries()) {
      expect({ tab: i, problems: runProblems(await tabSeqs(tab), 1, last) }).toEqual({
        tab: i,
        problems: [],
      });
    }

    const after = await states();
    expect(after.reduce((sum, s) => sum + s.leader.elections, 0)).toBe(electionsBefore);
    expect(after.map((s) => s.leaderTabId)).toEqual(after.map(() => leaderTabId));
    expect(after[leaderIndex]!.isLeader).toBe(true);
    // No reconnect either: the connection was healthy all along.
    expect(env.server.metrics().totalConnections).toBe(connectionsBefore);
    expect(orgConnections(env.server, org).length).toBe(1);
    const data = await Promise.all(tabs.map(tabData));
    expect(leaderOverlaps(Object.fromEntries(data.map((d, i) => [`tab${i}`, d.samples])))).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
