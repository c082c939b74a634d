import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openTabs,
  orgConnections,
  publishTasks,
  runProblems,
  setUpServerAndChromium,
  sleep,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// Server-side failures seen by several tabs of one browser: a server restart
// and expired tokens lose nothing in any tab; a revoked user disables every
// tab for good, with no further connection attempt.

const env = setUpServerAndChromium();

const USER = 'u_1';

/** Three tabs of `org`, settled on one leader and one connection. */
async function openSettledTabs(
  org: string,
  errors: string[],
): Promise<{ context: BrowserContext; tabs: Page[] }> {
  const context = await env.browser.newContext();
  const tabs = await openTabs(context, env.server.origin, 3, { org, user: USER }, errors);
  await waitUntil(
    async () => {
      const states = await Promise.all(tabs.map(tabState));
      const connections = orgConnections(env.server, org);
      return (
        connections.length === 1 &&
        states.filter((s) => s.isLeader).length === 1 &&
        states.every((s) => s.status === 'connected' && s.connectionId === connections[0]!.connectionId)
      );
    },
    { message: `one leader and one connection for ${org}` },
  );
  return { context, tabs };
}

/** Publishes 50 events/s to `org` around `fault`; returns the last seq. */
async function publishAround(org: string, fault: () => Promise<void> | void): Promise<number> {
  let published = 0;
  const publisher = setInterval(() => {
    published = env.server.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
  }, 20);
  try {
    await sleep(300);
    await fault();
    await sleep(1500);
  } finally {
    clearInterval(publisher);
  }
  return published;
}

async function expectAllExactly(tabs: Page[], last: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.at(-1) === last),
    {
      timeoutMs,
      message: `every tab at seq ${last}`,
    },
  );
  await sleep(200);
  for (const [i, tab] of tabs.entries()) {
    expect({ tab: i, problems: runProblems(await tabSeqs(tab), 1, last) }).toEqual({ tab: i, problems: [] });
  }
}

describe('server failures across tabs in real Chromium', () => {
  it('a server restart (down 300 ms) mid-stream: every tab still gets 1..N exactly once', async () => {
    const org = 'org_fail_restart';
    const errors: string[] = [];
    const { context, tabs } = await openSettledTabs(org, errors);
    const last = await publishAround(org, () => env.server.restart({ downMs: 300 }));
    await expectAllExactly(tabs, last, 10_000);
    expect(orgConnections(env.server, org)).toHaveLength(1);
    expect((await Promise.all(tabs.map(tabState))).filter((s) => s.isLeader)).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('every token expired mid-stream: the leader re-authenticates, nothing lost in any tab', async () => {
    const org = 'org_fail_expire';
    const errors: string[] = [];
    const { context, tabs } = await openSettledTabs(org, errors);
    const before = env.server.metrics().totalConnections;
    const last = await publishAround(org, () => env.server.faults.expireTokens());
    await expectAllExactly(tabs, last, 10_000);
    // The expired connection was replaced (once, by the leader alone).
    expect(env.server.metrics().totalConnections - before).toBe(1);
    expect(orgConnections(env.server, org)).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a revoked user: every tab disabled as forbidden, and no connection is opened afterwards', async () => {
    const org = 'org_fail_revoke';
    const errors: string[] = [];
    const { context, tabs } = await openSettledTabs(org, errors);
    publishTasks(env.server, org, 10);
    await expectAllExactly(tabs, 10, 5000);

    env.server.faults.revokeUser(org, USER);
    await waitUntil(
      async () =>
        (await Promise.all(tabs.map(tabState))).every(
          (s) => s.status === 'disabled' && s.disabledReason === 'forbidden',
        ),
      { message: 'every tab disabled as forbidden' },
    );
    const total = env.server.metrics().totalConnections;
    const requests = env.server.metrics().requestsTotal;
    publishTasks(env.server, org, 5);
    await sleep(1000);
    expect(env.server.metrics().totalConnections).toBe(total);
    expect(orgConnections(env.server, org)).toHaveLength(0);
    // Not even attempts (token fetches, refused upgrades or polls) from these tabs.
    expect(env.server.metrics().requestsTotal).toBe(requests);
    const states = await Promise.all(tabs.map(tabState));
    expect(states.map((s) => [s.status, s.disabledReason])).toEqual(
      tabs.map(() => ['disabled', 'forbidden']),
    );
    for (const tab of tabs) expect(await tabSeqs(tab)).toHaveLength(10);
    expect(errors).toEqual([]);
    await context.close();
  });
});
