import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openTab,
  orgConnections,
  publishTasks,
  range,
  setUpServerAndChromium,
  sleep,
  type TabParams,
  tabData,
  tabState,
  waitUntil,
} from './harness';

// Tabs of another org, another user or another app on the same origin (one
// browser context) never share a leader, a channel or events: each scope
// holds its own connection and sees only its own events, once.

const env = setUpServerAndChromium();

describe('scopes in one browser in real Chromium', () => {
  it('org B sees nothing of org A; users u1 and u2 of org A hold separate connections', async () => {
    const orgA = 'org_scope_a';
    const orgB = 'org_scope_b';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs: Array<{ name: string; params: TabParams; page: Page }> = [];
    const specs: Array<[string, TabParams]> = [
      ['a-u1-first', { org: orgA, user: 'u1' }],
      ['a-u1-second', { org: orgA, user: 'u1' }],
      ['a-u2', { org: orgA, user: 'u2' }],
      ['b-u1', { org: orgB, user: 'u1' }],
      ['a-u1-other-app', { org: orgA, user: 'u1', app: 'other_app' }],
    ];
    for (const [name, params] of specs) {
      tabs.push({ name, params, page: await openTab(context, env.server.origin, params, errors) });
    }
    await waitUntil(
      async () =>
        (await Promise.all(tabs.map((t) => tabState(t.page)))).every((s) => s.status === 'connected'),
      { message: 'every tab connected' },
    );
    await sleep(300);

    // One connection per (app, org, user): u1 (default app), u2, u1 (other app).
    const connectionsA = orgConnections(env.server, orgA);
    expect(connectionsA.map((c) => c.userId).sort()).toEqual(['u1', 'u1', 'u2']);
    expect(orgConnections(env.server, orgB).map((c) => c.userId)).toEqual(['u1']);
    const states = await Promise.all(tabs.map((t) => tabState(t.page)));
    // The two u1 tabs of the default app share one leader; every other tab leads its own scope.
    expect(states.map((s) => s.isLeader).filter(Boolean)).toHaveLength(4);
    expect(states[0]!.leaderTabId).toBe(states[1]!.leaderTabId);
    expect(states[0]!.connectionId).toBe(states[1]!.connectionId);
    expect(new Set(states.map((s) => s.connectionId)).size).toBe(4);

    publishTasks(env.server, orgA, 30, () => 'prop_a');
    publishTasks(env.server, orgB, 7, () => 'prop_b');

    const want = (params: TabParams) =>
      params.org === orgA
        ? range(1, 30).map((seq) => ({ seq, propertyId: 'prop_a' }))
        : range(1, 7).map((seq) => ({ seq, propertyId: 'prop_b' }));
    await waitUntil(
      async () => {
        const data = await Promise.all(tabs.map((t) => tabData(t.page)));
        return data.every((d, i) => d.events.length >= want(tabs[i]!.params).length);
      },
      { message: 'every tab has its events' },
    );
    await sleep(300); // an event of the other scope, or a duplicate, would show by now
    for (const tab of tabs) {
      const { events } = await tabData(tab.page);
      expect({
        tab: tab.name,
        events: events.map((e) => ({ seq: e.seq, propertyId: e.propertyId })),
      }).toEqual({
        tab: tab.name,
        events: want(tab.params),
      });
    }
    expect(orgConnections(env.server, orgA)).toHaveLength(3);
    expect(orgConnections(env.server, orgB)).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });
});
