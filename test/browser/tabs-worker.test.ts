import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import type { WorkerPageData } from './fixtures/worker/main';
import {
  bundleFixture,
  fixtureDir,
  journey,
  orgConnections,
  publishTasks,
  runProblems,
  setUpServerAndChromium,
  sleep,
  waitUntil,
} from './harness';

// "tabwire runs in browsers, workers and Node ≥ 20" (docs/getting-started.md),
// checked in real Chromium: the client created in a dedicated Worker of each
// tab, in the origin's SharedWorker, and beside a page's own client, with the
// library's defaults (fixtures/worker/main.ts). A worker has `navigator.locks`,
// BroadcastChannel and IndexedDB but no `window`, `document` or `localStorage`:
// `auto` is `locks` there, and the workers of a scope elect one leader, hold
// one connection and relay to each other as tabs do.

const env = setUpServerAndChromium(async () => {
  const out = await bundleFixture('worker');
  return startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    static: { '/': fixtureDir('worker'), '/_build/': out },
  });
});

type Transport = 'websocket' | 'sse' | 'long-poll';
interface HostParams {
  org: string;
  where: 'worker' | 'shared' | 'page';
  transports?: Transport[];
  persist?: boolean;
}
type PageGlobal = { __tw: WorkerPageData };

/** Opens a tab of the worker fixture and waits for its client's first state. */
async function openHost(context: BrowserContext, params: HostParams, errors: string[]): Promise<Page> {
  const query = new URLSearchParams({ org: params.org, where: params.where });
  if (params.transports) query.set('transports', params.transports.join(','));
  if (params.persist) query.set('persist', '1');
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  await page.goto(`${env.server.origin}/?${query}`);
  await page.waitForFunction(() => (window as unknown as Partial<PageGlobal>).__tw?.state !== undefined);
  return page;
}

/** Opens `count` tabs at once (the election does not care which came first). */
function openHosts(context: BrowserContext, count: number, params: HostParams, errors: string[]) {
  return Promise.all(Array.from({ length: count }, () => openHost(context, params, errors)));
}

type HostData = Omit<WorkerPageData, 'worker' | 'state' | 'life'> & { state: RealtimeState };
const hostData = (page: Page): Promise<HostData> =>
  page.evaluate(() => {
    const { seqs, state, errors, offlineReads } = (window as unknown as PageGlobal).__tw;
    return { seqs, state: state!, errors, offlineReads };
  });

/** Waits until one client of `pages` leads (a SharedWorker's is every tab's) and all are connected over the org's one connection. */
async function oneConnection(pages: Page[], org: string, transport: Transport): Promise<RealtimeState[]> {
  return waitUntil(
    async () => {
      const states = (await Promise.all(pages.map(hostData))).map((d) => d.state);
      const connections = orgConnections(env.server, org);
      const ok =
        connections.length === 1 &&
        connections[0]!.transport === transport &&
        new Set(states.filter((s) => s.isLeader).map((s) => s.tabId)).size === 1 &&
        states.every((s) => s.status === 'connected' && s.connectionId === connections[0]!.connectionId);
      return ok ? states : undefined;
    },
    { timeoutMs: 10_000, message: `one leader and one ${transport} connection for ${org}` },
  );
}

/** Waits until every page got `last`, then a little more for repeats; expects exactly `from..last` in order. */
async function expectRun(pages: Page[], from: number | undefined, last: number): Promise<void> {
  await waitUntil(async () => (await Promise.all(pages.map(hostData))).every((d) => d.seqs.at(-1) === last), {
    timeoutMs: 10_000,
    message: `every tab at seq ${last}`,
  });
  await sleep(100);
  for (const data of await Promise.all(pages.map(hostData)))
    expect(runProblems(data.seqs, from, last)).toEqual([]);
}

async function leaderOf(pages: Page[]): Promise<Page> {
  const states = (await Promise.all(pages.map(hostData))).map((d) => d.state);
  const leaders = pages.filter((_, i) => states[i]!.isLeader);
  expect(leaders).toHaveLength(1);
  return leaders[0]!;
}

/** Ends the tab's client as its tab's close does, its dedicated worker first (terminated: no goodbye). */
async function closeHost(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as PageGlobal).__tw.worker?.terminate());
  await page.close();
}

async function withContext(body: (context: BrowserContext, errors: string[]) => Promise<void>) {
  const context = await env.browser.newContext();
  const errors: string[] = [];
  try {
    await body(context, errors);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
}

describe('tabwire in workers (real Chromium)', () => {
  it('a dedicated worker per tab: one connection, a terminated leader worker replaced', () =>
    withContext(async (context, errors) => {
      const org = 'org_worker_takeover';
      const pages = await openHosts(context, 3, { org, where: 'worker' }, errors);
      const states = await oneConnection(pages, org, 'websocket');
      // `auto`: workers have navigator.locks.
      expect(states.map((s) => s.electionStrategy)).toEqual(['locks', 'locks', 'locks']);
      await expectRun(pages, 1, publishTasks(env.server, org, 20));

      const leader = await leaderOf(pages);
      await closeHost(leader);
      const rest = pages.filter((p) => p !== leader);
      publishTasks(env.server, org, 10);
      await oneConnection(rest, org, 'websocket');
      await expectRun(rest, 1, publishTasks(env.server, org, 10));
    }));

  for (const transport of ['sse', 'long-poll'] as const) {
    journey(`${transport}: the workers of two tabs share one connection`, () =>
      withContext(async (context, errors) => {
        const org = `org_worker_${transport.replace('-', '_')}`;
        const pages = await openHosts(context, 2, { org, where: 'worker', transports: [transport] }, errors);
        await oneConnection(pages, org, transport);
        await expectRun(pages, 1, publishTasks(env.server, org, 10));
      }),
    );
  }

  it("a page's client and a worker's client of the same scope share the one connection", () =>
    withContext(async (context, errors) => {
      const org = 'org_worker_mixed';
      const pages = [
        await openHost(context, { org, where: 'page' }, errors),
        await openHost(context, { org, where: 'worker' }, errors),
      ];
      await oneConnection(pages, org, 'websocket');
      await expectRun(pages, 1, publishTasks(env.server, org, 10));
      const leader = await leaderOf(pages);
      await closeHost(leader);
      const rest = pages.filter((p) => p !== leader);
      publishTasks(env.server, org, 5);
      await oneConnection(rest, org, 'websocket');
      await expectRun(rest, 1, publishTasks(env.server, org, 5));
    }));

  it('one SharedWorker client for every tab: one connection until the last tab closes', () =>
    withContext(async (context, errors) => {
      const org = 'org_worker_shared';
      const pages = await openHosts(context, 3, { org, where: 'shared' }, errors);
      const [state] = await oneConnection(pages, org, 'websocket');
      expect(state!.electionStrategy).toBe('locks');
      const { connectionId } = state!;
      await expectRun(pages, 1, publishTasks(env.server, org, 10));
      await pages[0]!.close();
      await pages[1]!.close();
      await expectRun([pages[2]!], 1, publishTasks(env.server, org, 10));
      expect(orgConnections(env.server, org).map((c) => c.connectionId)).toEqual([connectionId]);
      await pages[2]!.close();
      await waitUntil(() => orgConnections(env.server, org).length === 0, {
        message: `no connection for ${org} once the last tab closed`,
      });
    }));

  journey(
    'persistCursor in workers: a new worker resumes from the cursor the closed ones kept in IndexedDB',
    () =>
      withContext(async (context, errors) => {
        const org = 'org_worker_persist';
        const params: HostParams = { org, where: 'worker', persist: true };
        let pages = await openHosts(context, 2, params, errors);
        await oneConnection(pages, org, 'websocket');
        await expectRun(pages, 1, publishTasks(env.server, org, 10));
        // Past the store's coalesced write (250 ms): a worker hears no pagehide to flush it.
        await sleep(400);
        for (const page of pages) await closeHost(page);
        publishTasks(env.server, org, 5);
        pages = [await openHost(context, params, errors)];
        await oneConnection(pages, org, 'websocket');
        await expectRun(pages, 11, publishTasks(env.server, org, 5));

        // Terminated right after a delivery: the coalesced write of the last
        // ~250 ms may be lost (as after a crash: a worker has no pagehide and
        // no localStorage), and that much replayed; never is an event lost.
        await closeHost(pages[0]!);
        publishTasks(env.server, org, 5);
        pages = [await openHost(context, params, errors)];
        await oneConnection(pages, org, 'websocket');
        const last = publishTasks(env.server, org, 5);
        await expectRun(pages, undefined, last);
        const { seqs } = await hostData(pages[0]!);
        expect(seqs[0]).toBeGreaterThanOrEqual(11);
        expect(seqs[0]).toBeLessThanOrEqual(21);
      }),
  );

  it('a worker that went offline reconnects on `online` at its global scope (no window there)', () =>
    withContext(async (context, errors) => {
      const org = 'org_worker_online';
      const page = await openHost(context, { org, where: 'worker' }, errors);
      await oneConnection([page], org, 'websocket');
      await page.evaluate(() =>
        (window as unknown as PageGlobal).__tw.worker!.postMessage({ offline: true }),
      );
      env.server.faults.dropConnections();
      // The retry found the network gone and waits for `online`.
      await waitUntil(async () => (await hostData(page)).offlineReads > 0, {
        message: 'an attempt while offline',
      });
      await page.evaluate(() =>
        (window as unknown as PageGlobal).__tw.worker!.postMessage({ offline: false }),
      );
      await oneConnection([page], org, 'websocket');
      await expectRun([page], 1, publishTasks(env.server, org, 5));
    }));
});
