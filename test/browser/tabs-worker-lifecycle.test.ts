import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import { type BackgroundChromium, launchBackgroundChromium } from './background-chromium';
import type { WorkerPageData } from './fixtures/worker/main';
import { bundleFixture, fixtureDir, orgConnections, runProblems, sleep, waitUntil } from './harness';

// A client in a dedicated worker hears its page's life when the page
// forwards it (forwardPageLifecycle) and the worker gives it to the client
// (pageLifecycleFrom; fixtures/worker/main.ts with `lifecycle=1`). Without
// it, a leader worker whose page froze kept its Web Lock and its socket:
// Chromium freezes a page's dedicated workers as soon as the page's `freeze`
// listeners return, so the other tabs' workers got no event until it
// resumed. With it, the page posts `freeze` and holds on for `freezeHoldMs`,
// in which the worker's client leaves, and the leader worker hands over as a
// frozen leader page does (tabs-freeze.test.ts). Without the hold (0) the
// worker was frozen before it let go of the lock, and this test failed as
// without forwarding. The page is frozen for real by CDP
// `Page.setWebLifecycleState`, in a Chromium with real background behaviour
// (background-chromium.ts; see tabs-freeze.test.ts for why not the shared
// one), in its default context.

const env = {} as { server: DevServer; chromium: BackgroundChromium; browser: Browser };
beforeAll(async () => {
  const out = await bundleFixture('worker');
  env.server = await startDevServer({
    batchWindowMs: { min: 5, max: 30 },
    static: { '/': fixtureDir('worker'), '/_build/': out },
  });
  env.chromium = await launchBackgroundChromium();
  env.browser = env.chromium.browser;
}, 30_000);
afterAll(async () => {
  await env.chromium?.close();
  await env.server?.close();
});

/** As tabs-freeze.test.ts's locks figure: the lock is released at once, the rest is a loaded 2-core machine. */
const HANDOVER_MS = 2500;

type PageGlobal = { __tw: WorkerPageData };
type HostData = Pick<WorkerPageData, 'seqs' | 'life'> & { state: RealtimeState };

const hostData = (page: Page): Promise<HostData> =>
  page.evaluate(() => {
    const { seqs, state, life } = (window as unknown as PageGlobal).__tw;
    return { seqs, state: state!, life };
  });

async function setLifecycle(page: Page, state: 'frozen' | 'active'): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Page.setWebLifecycleState', { state });
  await cdp.detach();
}

/** Three tabs of `org`, each with its client in a dedicated worker, opened one after another: the first one's worker leads. */
async function threeTabs(org: string, errors: string[]): Promise<Page[]> {
  const context = env.browser.contexts()[0]!;
  const pages: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
    await page.goto(`${env.server.origin}/?${new URLSearchParams({ org, lifecycle: '1' })}`);
    await waitUntil(
      () =>
        page.evaluate(() => (window as unknown as Partial<PageGlobal>).__tw?.state?.status === 'connected'),
      { message: `tab ${i} connected` },
    );
    pages.push(page);
  }
  expect((await hostData(pages[0]!)).state.isLeader).toBe(true);
  return pages;
}

describe('a client in a dedicated worker, its page forwarding its life (real Chromium)', () => {
  it('freezing the page of the leader worker hands over at once; back, it follows and gets what it missed once', async () => {
    const org = 'org_worker_lifecycle';
    const errors: string[] = [];
    const pages = await threeTabs(org, errors);
    const [frozen, ...others] = pages as [Page, Page, Page];
    let last = 0;
    const publisher = setInterval(() => {
      last = env.server.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
    }, 20);
    try {
      await waitUntil(async () => (await Promise.all(pages.map(hostData))).every((d) => d.seqs.length >= 5), {
        message: 'every tab got events',
      });
      const oldConnection = orgConnections(env.server, org)[0]!.connectionId;
      const atFreeze = (await Promise.all(others.map(hostData))).map((d) => d.seqs.length);
      const since = performance.now();
      await setLifecycle(frozen, 'frozen');
      // Another tab's worker leads a connection of its own, the frozen one's
      // is closed, and the other tabs get events again.
      const handover = await waitUntil(
        async () => {
          const data = await Promise.all(others.map(hostData));
          const connections = orgConnections(env.server, org);
          return data.filter((d) => d.state.isLeader).length === 1 &&
            connections.length === 1 &&
            connections[0]!.connectionId !== oldConnection &&
            data.every((d, i) => d.seqs.length > atFreeze[i]! + 2)
            ? performance.now() - since
            : undefined;
        },
        { timeoutMs: 10_000, message: 'a new leader, one connection, events flowing to the others' },
      ).catch(async (e: Error) => {
        const data = await Promise.all(others.map(hostData));
        const seen = data.map((d) => ({
          leader: d.state.isLeader,
          status: d.state.status,
          events: `${atFreeze[data.indexOf(d)]} → ${d.seqs.length}`,
          life: d.life,
        }));
        const connections = orgConnections(env.server, org).map((c) => c.connectionId);
        throw new Error(
          `${e.message}; others ${JSON.stringify(seen)}; connections ${connections} (was ${oldConnection})`,
        );
      });
      console.log(
        `frozen page of the leader worker: handover and events flowing after ${Math.round(handover)} ms`,
      );
      expect(handover).toBeLessThan(HANDOVER_MS);

      await setLifecycle(frozen, 'active');
      await waitUntil(
        async () => {
          const { state, life } = await hostData(frozen);
          return life.includes('resume') && state.status === 'connected';
        },
        { message: 'the resumed worker told `resume` and connected' },
      );
      const { state, life } = await hostData(frozen);
      expect(state.isLeader).toBe(false);
      // The worker's client was given the page's `freeze` and `resume` (beside
      // the load's `pageshow` and the `visibilitychange` of the tabs opened later).
      expect(life.filter((type) => type === 'freeze' || type === 'resume')).toEqual(['freeze', 'resume']);

      clearInterval(publisher);
      const to = last;
      await waitUntil(
        async () => (await Promise.all(pages.map(hostData))).every((d) => d.seqs.at(-1) === to),
        { timeoutMs: 5000, message: `every tab at seq ${to}` },
      );
      await sleep(200); // room for a late duplicate to show
      for (const [i, page] of pages.entries())
        expect({ tab: i, problems: runProblems((await hostData(page)).seqs, 1, to) }).toEqual({
          tab: i,
          problems: [],
        });
      expect(orgConnections(env.server, org)).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      clearInterval(publisher);
      for (const page of pages) await page.close();
    }
  }, 30_000);
});
