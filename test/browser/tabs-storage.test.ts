import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  crashPage,
  type LeaderSample,
  leaderOverlaps,
  maxSampleGapMs,
  openTab,
  orgConnections,
  runProblems,
  setUpServerAndChromium,
  sleep,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// The localStorage lease (strategy=storage, takeoverMs=1000): a closed or
// crashed leader is replaced within takeoverMs + 500 ms; garbage in storage
// and a Date.now jumped by ±5 minutes elect no second leader and lose nothing.

const env = setUpServerAndChromium();

const TAKEOVER_MS = 1000;

interface Tab {
  name: string;
  page: Page;
  original: boolean;
  alive: boolean;
}

type ClockWindow = { __twRealNow: () => number; __twDateOffset: number };

async function nextWelcome(before: number, since: number, timeoutMs = 5000): Promise<number> {
  for (;;) {
    if (env.server.metrics().totalConnections > before) return performance.now() - since;
    if (performance.now() - since > timeoutMs) return Number.POSITIVE_INFINITY;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('storage-lease election in real Chromium', () => {
  it('takes over within takeoverMs + 500 ms; garbage in storage and clock jumps elect no second leader', async () => {
    const org = 'org_storage';
    const context = await env.browser.newContext();
    // A movable Date.now in every tab, installed before the library reads it;
    // the page's samples keep the real clock (`__twRealNow`).
    await context.addInitScript(() => {
      const w = window as unknown as ClockWindow;
      const real = Date.now.bind(Date);
      w.__twRealNow = real;
      w.__twDateOffset = 0;
      Date.now = () => real() + w.__twDateOffset;
    });
    const errors: string[] = [];
    const tabs: Tab[] = [];
    const open = async (original: boolean) => {
      const page = await openTab(
        context,
        env.server.origin,
        { org, strategy: 'storage', takeoverMs: TAKEOVER_MS },
        errors,
      );
      const tab: Tab = { name: `tab${tabs.length}`, page, original, alive: true };
      tabs.push(tab);
      return tab;
    };
    const alive = () => tabs.filter((t) => t.alive);
    const states = () => Promise.all(alive().map((t) => tabState(t.page)));
    const leaderTab = async () => {
      const all = await states();
      const leaders = alive().filter((_, i) => all[i]!.isLeader);
      expect(leaders.map((t) => t.name)).toHaveLength(1);
      return leaders[0]!;
    };
    const settled = (message: string) =>
      waitUntil(
        async () => {
          const all = await states();
          const connections = orgConnections(env.server, org);
          return (
            connections.length === 1 &&
            all.filter((s) => s.isLeader).length === 1 &&
            all.every((s) => s.status === 'connected' && s.connectionId === connections[0]!.connectionId)
          );
        },
        { timeoutMs: 5000, message },
      );
    const samples: Record<string, LeaderSample[]> = {};

    for (let i = 0; i < 4; i++) await open(true);
    await settled('one leader and one connection');
    expect((await states()).map((s) => s.electionStrategy)).toEqual([
      'storage',
      'storage',
      'storage',
      'storage',
    ]);

    let published = 0;
    const publisher = setInterval(() => {
      published = env.server.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
    }, 20);
    const takeovers: Array<{ kind: string; ms: number }> = [];
    try {
      await sleep(300);
      for (const kind of ['close', 'crash'] as const) {
        const victim = await leaderTab();
        samples[victim.name] = (await tabData(victim.page)).samples;
        const before = env.server.metrics().totalConnections;
        const since = performance.now();
        victim.alive = false;
        const killing = kind === 'close' ? victim.page.close() : crashPage(victim.page);
        takeovers.push({ kind, ms: await nextWelcome(before, since) });
        await killing;
        await settled(`a new leader after the ${kind}`);
        await open(false);
        await sleep(300);
      }

      // Garbage over every tabwire key and beside them, written by a follower.
      const all = await states();
      const follower = alive().find((_, i) => !all[i]!.isLeader)!;
      const garbled = await follower.page.evaluate(() => {
        const keys: string[] = [];
        for (let i = 0; i < localStorage.length; i++) {
          const key = localStorage.key(i);
          if (key?.startsWith('tabwire')) keys.push(key);
        }
        for (const key of keys) localStorage.setItem(key, '{garbage');
        for (let i = 0; i < 20; i++) {
          localStorage.setItem(`junk-${Math.random().toString(36).slice(2)}`, '{garbage');
        }
        localStorage.setItem('tabwire', '{garbage');
        localStorage.setItem('tabwire:v1:tabwire:garbage:lease', '{"tabId":1}');
        return keys;
      });
      expect(garbled.length).toBeGreaterThan(0); // the lease key was there to be garbled
      await sleep(500);

      // The leader's clock jumps 5 minutes ahead, a follower's 5 minutes back.
      const leader = await leaderTab();
      const other = alive().find((t) => t !== leader)!;
      await leader.page.evaluate(() => {
        (window as unknown as ClockWindow).__twDateOffset = 5 * 60_000;
      });
      await other.page.evaluate(() => {
        (window as unknown as ClockWindow).__twDateOffset = -5 * 60_000;
      });
      await sleep(1500);
    } finally {
      clearInterval(publisher);
    }
    console.log('storage takeovers', JSON.stringify(takeovers));
    for (const takeover of takeovers) expect(takeover.ms).toBeLessThan(TAKEOVER_MS + 500);

    const last = published;
    await waitUntil(
      async () => (await Promise.all(alive().map((t) => tabSeqs(t.page)))).every((s) => s.at(-1) === last),
      { timeoutMs: 5000, message: `every surviving tab at seq ${last}` },
    );
    await sleep(200);
    for (const tab of alive()) {
      const seqs = await tabSeqs(tab.page);
      expect({ tab: tab.name, problems: runProblems(seqs, tab.original ? 1 : undefined, last) }).toEqual({
        tab: tab.name,
        problems: [],
      });
    }
    expect(alive().some((t) => t.original)).toBe(true);

    await settled('still one leader and one connection');
    const final = await states();
    const leaderTabId = final.find((s) => s.isLeader)!.tabId;
    expect(final.map((s) => s.leaderTabId)).toEqual(final.map(() => leaderTabId));
    for (const tab of alive()) samples[tab.name] = (await tabData(tab.page)).samples;
    expect(leaderOverlaps(samples)).toEqual([]);
    expect(maxSampleGapMs(samples)).toBeLessThan(500);
    expect(errors).toEqual([]);
    await context.close();
  });
});
