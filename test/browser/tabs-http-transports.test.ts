import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  crashPage,
  openTabs,
  orgConnections,
  runProblems,
  setUpServerAndChromium,
  sleep,
  startTabsServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// The other browser tests run on WebSocket, the first transport of the
// default chain. Here every tab is configured with SSE (fetch streaming) or
// long-poll alone, so the leader's connection is plain HTTP in real Chromium:
// a stream or a waiting poll that the renderer's crash, the page's close or
// the server's restart cuts off, and that the next leader opens anew from the
// shared cursor. Every surviving tab must still get 1..N exactly once, and
// the org hold one connection of that transport at the end.
//
// A dead leader's long-poll session is the server's to expire (no poll for
// `pollIdleTimeoutMs`: a crashed tab cannot say goodbye); 2 s here instead
// of a minute, so "one connection" is checked after each takeover.

const env = setUpServerAndChromium(() => startTabsServer({ pollIdleTimeoutMs: 2000 }));

/** Waits until exactly one of `tabs` leads, every one shows the org's one connection, over `transport`. */
async function oneLeaderOn(tabs: Page[], org: string, transport: string): Promise<void> {
  await waitUntil(
    async () => {
      const states = await Promise.all(tabs.map(tabState));
      const connections = orgConnections(env.server, org);
      return (
        connections.length === 1 &&
        connections[0]!.transport === transport &&
        states.filter((s) => s.isLeader).length === 1 &&
        states.every((s) => s.status === 'connected' && s.connectionId === connections[0]!.connectionId)
      );
    },
    { timeoutMs: 10_000, message: `one leader and one ${transport} connection for ${org}` },
  );
}

async function leaderOf(tabs: Page[]): Promise<Page> {
  const states = await Promise.all(tabs.map(tabState));
  const leaders = tabs.filter((_, i) => states[i]!.isLeader);
  expect(leaders).toHaveLength(1);
  return leaders[0]!;
}

describe('SSE and long-poll across tabs in real Chromium', () => {
  for (const transport of ['sse', 'long-poll'] as const) {
    it(`${transport}: a crashed leader, a closed one and a server restart lose and repeat nothing`, async () => {
      const org = `org_http_${transport.replace('-', '_')}`;
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const tabs = await openTabs(context, env.server.origin, 4, { org, transports: [transport] }, errors);
      await oneLeaderOn(tabs, org, transport);

      let published = 0;
      const publisher = setInterval(() => {
        published = env.server.publish(org, {
          service: 'tasks',
          entityType: 'task',
          type: 'task.updated',
        }).seq;
      }, 20);
      const alive = [...tabs];
      try {
        await sleep(300);
        const crashed = await leaderOf(alive);
        alive.splice(alive.indexOf(crashed), 1);
        await crashPage(crashed);
        await oneLeaderOn(alive, org, transport);
        await sleep(300);

        const closed = await leaderOf(alive);
        alive.splice(alive.indexOf(closed), 1);
        await closed.close();
        await oneLeaderOn(alive, org, transport);
        await sleep(300);

        await env.server.restart({ downMs: 300 });
        await sleep(1000);
      } finally {
        clearInterval(publisher);
      }

      const last = published;
      await waitUntil(
        async () => (await Promise.all(alive.map((t) => tabSeqs(t)))).every((s) => s.at(-1) === last),
        { timeoutMs: 10_000, message: `every surviving tab at seq ${last}` },
      );
      await sleep(200); // room for a late duplicate to show
      for (const [i, tab] of alive.entries()) {
        expect({ tab: i, problems: runProblems(await tabSeqs(tab), 1, last) }).toEqual({
          tab: i,
          problems: [],
        });
      }
      await oneLeaderOn(alive, org, transport);
      expect(errors).toEqual([]);
      await context.close();
    });
  }
});
