import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index';
import {
  launchChromium,
  openTab,
  orgConnections,
  publishTasks,
  runProblems,
  sleep,
  startTabsServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// A follower restored from the back/forward cache gets the events published
// while it was away, exactly once and in order, at once (no new event needed
// to reveal the hole). It used to take the leader's cursor on rejoining and
// skip them, with no gap and no resync (src/client.ts `#adoptLeaderCursor`;
// the fake-browser version is test/unit/tabs/rejoin-cursor.test.ts).
//
// This is a REAL bfcache round trip: Playwright launches Chromium with
// --disable-back-forward-cache, so this file launches its own Chromium
// without that switch (otherwise the harness's flags), navigates the
// follower away and back with page.goBack(), and checks the page saw a
// `pageshow` with `persisted: true`.

const env = {} as { server: DevServer; browser: Browser };
beforeAll(async () => {
  env.server = await startTabsServer();
  // Playwright launches with --disable-back-forward-cache by default.
  env.browser = await launchChromium(['--disable-back-forward-cache']);
});
afterAll(async () => {
  await env.browser?.close();
  await env.server?.close();
});

type ShowWindow = { __pageshows: boolean[] };

describe('a follower back from the back/forward cache, in real Chromium', () => {
  it('gets what was published while it was away, exactly once and in order', async () => {
    const org = 'org_bfcache_rejoin';
    const context = await env.browser.newContext();
    // Every pageshow's `persisted`, kept in the page (its heap survives the bfcache).
    await context.addInitScript(() => {
      const w = window as unknown as ShowWindow;
      w.__pageshows = [];
      addEventListener('pageshow', (e) => w.__pageshows.push((e as PageTransitionEvent).persisted));
    });
    const errors: string[] = [];
    const a = await openTab(context, env.server.origin, { org }, errors);
    await waitUntil(async () => (await tabState(a)).status === 'connected', { message: 'A connected' });
    const b = await openTab(context, env.server.origin, { org }, errors);
    await waitUntil(async () => (await tabState(b)).status === 'connected', { message: 'B connected' });
    expect((await tabState(a)).isLeader).toBe(true);
    expect((await tabState(b)).isLeader).toBe(false);

    publishTasks(env.server, org, 3);
    await waitUntil(async () => (await tabSeqs(b)).length === 3, { message: 'B has 1..3' });

    // ── B goes into the bfcache (same-origin navigation), 5 events meanwhile ──
    await b.goto(`${env.server.origin}/_build/main.js?away`);
    publishTasks(env.server, org, 5);
    await waitUntil(async () => (await tabSeqs(a)).length === 8, { message: 'A has 1..8' });
    await sleep(200);

    // ── back: a real restore, not a reload ──
    await b.goBack({ waitUntil: 'commit', timeout: 5000 });
    await waitUntil(() => b.evaluate(() => (window as unknown as ShowWindow).__pageshows.includes(true)), {
      message: 'pageshow with persisted: true (a real bfcache restore)',
    });
    expect(await b.evaluate(() => (window as unknown as ShowWindow).__pageshows)).toEqual([false, true]);

    // Caught up with no new event published.
    await waitUntil(async () => (await tabSeqs(b)).length >= 8, {
      timeoutMs: 5000,
      message: 'B caught up to 8 without a new event',
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}; B seqs ${JSON.stringify(await tabSeqs(b))}`);
    });
    expect((await tabState(b)).isLeader).toBe(false);

    publishTasks(env.server, org, 2);
    await waitUntil(async () => (await tabSeqs(a)).length >= 10 && (await tabSeqs(b)).length >= 10, {
      message: 'both tabs at 10',
    }).catch(async (e: Error) => {
      throw new Error(`${e.message}; B seqs ${JSON.stringify(await tabSeqs(b))}`);
    });
    await sleep(200);
    expect(runProblems(await tabSeqs(a), 1, 10)).toEqual([]);
    expect(runProblems(await tabSeqs(b), 1, 10)).toEqual([]);
    expect(orgConnections(env.server, org).length).toBe(1);
    expect(errors).toEqual([]);
    await context.close();
  }, 20_000);
});
