import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openTab,
  orgConnections,
  publishTasks,
  setUpServerAndChromium,
  sleep,
  type TabParams,
  tabSeqs,
  tabState,
  tabUrl,
  waitUntil,
} from './harness';

// A follower in a tab hidden for 5 minutes, with a property filter of its
// own: Chrome runs its chained timers (the needs refresh among them) once a
// minute, aligned to whole minutes. The leader took it for gone after 35 s
// unheard and dropped its filter from the union: the server filtered its
// property's events out, and as a batch's cursor covers the seqs filtered
// out before it, no tab saw a gap. Those events were lost for good (unit
// version: test/unit/tabs/throttled-needs.test.ts).
//
// EMULATED THROTTLING, as in tabs-storage-hidden.test.ts (headless Chromium
// keeps every page visible): the follower's page reports `document.hidden`
// and runs every `setTimeout` at the next whole minute of its clock.
// Everything else (BroadcastChannel, Web Locks, the dev server's in-place
// update and filtered batches) is real.

const env = setUpServerAndChromium();

function hideAndThrottleToMinutes(): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
  const realSetTimeout = window.setTimeout.bind(window);
  // On time while the page starts (the election, the first connect), then a minute's pace.
  const start = performance.now();
  const throttled = (handler: TimerHandler, ms?: number, ...args: unknown[]): number => {
    const now = performance.now();
    const wait = Math.max(0, ms ?? 0);
    if (now - start < 2000) return realSetTimeout(handler, wait, ...args);
    const due = Math.ceil((now + wait) / 60_000) * 60_000;
    return realSetTimeout(handler, due - now, ...args);
  };
  window.setTimeout = throttled as typeof window.setTimeout;
}

async function openHiddenTab(context: BrowserContext, params: TabParams, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  await page.addInitScript(hideAndThrottleToMinutes);
  await page.goto(tabUrl(env.server.origin, params));
  await page.waitForFunction(() => (window as unknown as { __tw?: unknown }).__tw !== undefined);
  return page;
}

describe('a hidden follower whose timers run once a minute, in real Chromium', () => {
  it('gets every event of its own property filter', async () => {
    const org = 'org_hidden_needs';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const leader = await openTab(context, env.server.origin, { org, filter: 'p1' }, errors);
    await waitUntil(async () => (await tabState(leader)).status === 'connected', {
      message: 'the first tab leads and is connected',
    });
    const hidden = await openHiddenTab(context, { org, filter: 'p2' }, errors);
    await waitUntil(async () => (await tabState(hidden)).status === 'connected', {
      timeoutMs: 5000,
      message: 'the hidden follower connected through the leader',
    });
    expect((await tabState(hidden)).isLeader).toBe(false);

    // 110 s of events, p1 and p2 alternating: long enough for the leader to
    // have taken the hidden tab for gone at least once before the fix.
    const wanted: number[] = [];
    const until = performance.now() + 110_000;
    while (performance.now() < until) {
      publishTasks(env.server, org, 1, () => 'p1');
      wanted.push(publishTasks(env.server, org, 1, () => 'p2'));
      await sleep(2000);
    }
    await sleep(1000);
    expect(await tabSeqs(hidden)).toEqual(wanted);
    expect((await tabState(hidden)).counters.gaps).toBe(0);
    expect(orgConnections(env.server, org)).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  }, 150_000);
});
