import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  journey,
  type LeaderSample,
  leaderOverlaps,
  openTab,
  orgConnections,
  setUpServerAndChromium,
  sleep,
  type TabParams,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';
import {
  endLoad,
  goneWithinMs,
  type Load,
  lastSeq,
  loadProblems,
  nothingLeft,
  settle,
  startNavigationServer,
  startPublisher,
  type TransportName,
  watchConnections,
} from './navigation';

// Reloads (F5) while the server publishes 50 events/s: of the leader tab,
// several times in a row and with F5 held down (reloaded again before the
// page finished loading), of a follower, and of every tab at once (a deploy
// that refreshes them all). Each page load must get its events once, in
// order, without a gap, from where docs/concepts.md says a new tab starts;
// the tabs that stay get everything; once settled the scope has one
// connection at the server (the old page's is gone, not leaked), one
// leader, and no tab counts a page that left.
//
// The leader's reloads and every tab's run over SSE and long-poll too, where
// the connection is a fetch stream, or a chain of polls, that the unloading
// page cuts off mid-request: the server must not keep a stream or a waiting
// poll of a page that is gone. Only with F5 held there: its first reload
// unloads a connected leader, as a plain one does, and the next ones unload
// it while it elects, opens its stream or sends its first poll. The other
// journeys are left to WebSocket: a follower holds no connection, the
// election does not depend on the transport, and every tab reloaded at once
// cuts the leader's stream or poll as the leader's reload does (with no tab
// left, the new leader starts from its welcome, as any first tab does).

const env = setUpServerAndChromium(startNavigationServer);

/** F5 held down: reloads this many ms apart (before the script ran, during the election, during the connect), then a full load. */
const HELD_MS = [0, 10, 30, 60, 120];

/**
 * Starts a reload and returns once it committed. A page whose previous load
 * is just being swapped in is briefly "Not attached to an active page" for
 * Playwright (seen with three tabs reloading at once): asked again then.
 */
async function reloadStarted(page: Page): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.reload({ waitUntil: 'commit' });
      return;
    } catch (error) {
      if (attempt >= 50 || !String(error).includes('Not attached to an active page')) throw error;
      await sleep(10);
    }
  }
}

interface Tab {
  name: string;
  page: Page;
  /** The current page load. */
  load: Load;
  /** The loads a reload ended, oldest first. */
  ended: Load[];
  /** When the last reload (its first F5) started to unload the load it ended, a `performance.now()`. */
  leftAt?: number;
  /** When its last F5 started to unload the last of the loads F5 held cut short. */
  lastLeftAt?: number;
}

async function openThree(context: BrowserContext, params: TabParams, errors: string[]) {
  const tabs: Tab[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await openTab(context, env.server.origin, params, errors);
    tabs.push({ name: `tab${i}`, page, load: { name: `tab${i}#0` }, ended: [] });
  }
  return tabs;
}

/** The least seq any tab has delivered: where a load started now may start at the earliest. */
async function floorOf(tabs: readonly Tab[]): Promise<number> {
  return Math.min(...(await Promise.all(tabs.map((t) => lastSeq(t.page)))));
}

/** Reloads `tab` (`held`: F5 held down first); its new load must start after `floor`. */
async function reload(tab: Tab, floor: number, held: boolean) {
  await endLoad(tab.load, tab.page);
  tab.ended.push(tab.load);
  tab.leftAt = performance.now();
  if (held) {
    for (const ms of HELD_MS) {
      await reloadStarted(tab.page);
      await sleep(ms);
    }
  }
  tab.lastLeftAt = performance.now();
  await tab.page.reload();
  tab.load = { name: `${tab.name}#${tab.ended.length}`, floor };
}

/** Waits for the tab's new load to show `connected`; notes the server's last seq by then. */
async function connected(tab: Tab, publisher: { last: number }) {
  await tab.page.waitForFunction(() => (window as unknown as { __tw?: unknown }).__tw !== undefined);
  const { seq } = await waitUntil(
    async () => ((await tabState(tab.page)).status === 'connected' ? { seq: publisher.last } : undefined),
    { timeoutMs: 8000, message: `${tab.load.name} connected` },
  );
  tab.load.connectedAt = seq;
}

/** Every load of every tab, ended or current, held to what it must have seen; leader runs never overlap. */
async function checkLoads(tabs: readonly Tab[], last: number) {
  const samples: Record<string, LeaderSample[]> = {};
  for (const tab of tabs) {
    for (const load of tab.ended) {
      const seqs = load.seqs ?? [];
      expect({
        load: load.name,
        problems: loadProblems(load, seqs, seqs.at(-1) ?? 0),
        any: seqs.length > 0,
      }).toEqual({ load: load.name, problems: [], any: true });
      expect({ load: load.name, errors: load.errors }).toEqual({ load: load.name, errors: [] });
      samples[load.name] = load.samples ?? [];
    }
    const data = await tabData(tab.page);
    const seqs = data.seqs.tasks ?? [];
    expect({ load: tab.load.name, problems: loadProblems(tab.load, seqs, last) }).toEqual({
      load: tab.load.name,
      problems: [],
    });
    expect({ load: tab.load.name, errors: data.errors }).toEqual({ load: tab.load.name, errors: [] });
    samples[tab.load.name] = data.samples;
  }
  expect(leaderOverlaps(samples)).toEqual([]);
}

async function allAt(tabs: readonly Tab[], last: number) {
  await waitUntil(
    async () => (await Promise.all(tabs.map((t) => lastSeq(t.page)))).every((s) => s === last),
    {
      message: `every tab at seq ${last}`,
    },
  ).catch(async (e: Error) => {
    throw new Error(
      `${e.message}; tabs at ${JSON.stringify(await Promise.all(tabs.map((t) => lastSeq(t.page))))}`,
    );
  });
  await sleep(200); // room for a late duplicate to show
}

/**
 * 3 tabs; reloads the leader (`who: 'leader'`, the current one each time)
 * or one follower (the same one each time) four times: plainly, twice,
 * then with F5 held down, then plainly again (`held`: as many times, each
 * with F5 held or not).
 */
async function reloadJourney(
  org: string,
  who: 'leader' | 'follower',
  {
    strategy,
    transport,
    held: reloads = [false, false, true, false],
  }: { strategy?: TabParams['strategy']; transport?: TransportName; held?: boolean[] } = {},
) {
  const context = await env.browser.newContext();
  const errors: string[] = [];
  const scope = { org, user: 'u_1' };
  const tabs = await openThree(context, paramsOf(org, strategy, transport), errors);
  const pages = () => tabs.map((t) => t.page);
  let settled = await settle(env.server, scope, pages(), 'three tabs');
  expectTransport(org, transport);
  const follower = tabs[(settled.leader + 1) % 3]!;
  const watch = watchConnections(env.server, org, scope.user);
  const publisher = startPublisher(env.server, org, 'p');
  const steps: string[] = [];
  try {
    await sleep(300);
    for (const held of reloads) {
      // Settled, the scope kept one connection until now.
      expect({ steps, most: watch.maxSince(settled.at) }).toEqual({ steps, most: 1 });
      const victim = who === 'leader' ? tabs[settled.leader]! : follower;
      const before = orgConnections(env.server, org)[0]!.connectionId;
      expect((await tabState(victim.page)).isLeader).toBe(who === 'leader');
      steps.push(`${held ? 'held F5 on' : 'reload'} ${victim.load.name}`);
      await reload(victim, await floorOf(tabs), held);
      await connected(victim, publisher);
      settled = await settle(env.server, scope, pages(), `after: ${steps.join(', ')}`);
      // The server forgot the connections of the loads gone, in time.
      const late = [
        ...watch.forgottenAfter(victim.leftAt! + goneWithinMs(transport), [before]),
        ...watch.forgottenAfter(victim.lastLeftAt! + goneWithinMs(transport)),
      ];
      expect({ steps, late }).toEqual({ steps, late: [] });
      if (who === 'follower') expect(tabs[settled.leader]).not.toBe(victim);
      await sleep(400);
    }
    expect({ steps, most: watch.maxSince(settled.at) }).toEqual({ steps, most: 1 });
  } finally {
    publisher.stop();
    watch.stop();
  }
  const last = publisher.last;
  await allAt(tabs, last);
  await checkLoads(tabs, last);
  if (who === 'follower') {
    // The two tabs never reloaded got everything.
    for (const tab of tabs.filter((t) => t !== follower)) expect(tab.ended).toEqual([]);
  }
  await settle(env.server, scope, pages(), 'at the end');
  expectTransport(org, transport);
  expect(errors).toEqual([]);
  await context.close();
  await nothingLeft(env.server, [org]);
}

function paramsOf(org: string, strategy?: TabParams['strategy'], transport?: TransportName): TabParams {
  return { org, ...(strategy && { strategy }), ...(transport && { transports: [transport] }) };
}

/** The org's one connection is of `transport` (when one was asked for). */
function expectTransport(org: string, transport: TransportName | undefined): void {
  if (transport) expect(orgConnections(env.server, org).map((c) => c.transport)).toEqual([transport]);
}

describe('reloads in real Chromium', () => {
  it('the leader reloaded four times (once with F5 held): nothing lost, one connection, one leader', async () => {
    await reloadJourney('org_reload_leader', 'leader');
  });

  journey(
    'a follower reloaded four times (once with F5 held): nothing lost, one connection, one leader',
    async () => {
      await reloadJourney('org_reload_follower', 'follower');
    },
  );

  journey('the leader reloaded, with the storage lease', async () => {
    await reloadJourney('org_reload_leader_storage', 'leader', { strategy: 'storage' });
  });

  for (const transport of ['sse', 'long-poll'] as const) {
    journey(
      `the leader reloaded with F5 held over ${transport}: nothing lost, nothing left at the server`,
      async () => {
        await reloadJourney(`org_reload_leader_${transport}`, 'leader', { transport, held: [true] });
      },
    );
  }

  journey(
    'every tab reloaded at once, twice (the second time with F5 held): one connection, nothing lost',
    async () => {
      const org = 'org_reload_all';
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const scope = { org, user: 'u_1' };
      const tabs = await openThree(context, { org }, errors);
      const pages = () => tabs.map((t) => t.page);
      let settled = await settle(env.server, scope, pages(), 'three tabs');
      const watch = watchConnections(env.server, org, scope.user);
      const publisher = startPublisher(env.server, org, 'p');
      try {
        await sleep(300);
        for (const held of [false, true]) {
          expect(watch.maxSince(settled.at)).toBe(1);
          const floor = await floorOf(tabs);
          await Promise.all(tabs.map((t) => reload(t, floor, held)));
          await Promise.all(tabs.map((t) => connected(t, publisher)));
          settled = await settle(
            env.server,
            scope,
            pages(),
            `after reloading all${held ? ' with F5 held' : ''}`,
          );
          expect(
            watch.forgottenAfter(Math.max(...tabs.map((t) => t.lastLeftAt!)) + goneWithinMs(undefined)),
          ).toEqual([]);
          await sleep(500);
        }
        expect(watch.maxSince(settled.at)).toBe(1);
      } finally {
        publisher.stop();
        watch.stop();
      }
      const last = publisher.last;
      await allAt(tabs, last);
      await checkLoads(tabs, last);
      expect(await Promise.all(tabs.map((t) => tabSeqs(t.page).then((s) => s.length > 0)))).toEqual([
        true,
        true,
        true,
      ]);
      expect(orgConnections(env.server, org)).toHaveLength(1);
      expect(errors).toEqual([]);
      await context.close();
      await nothingLeft(env.server, [org]);
    },
  );
});
