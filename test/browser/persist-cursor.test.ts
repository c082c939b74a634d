import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index';
import { channelName } from '../../src/tabs/channel-name';
import { CURSOR_DB_NAME, CURSOR_STORE_NAME } from '../../src/tabs/cursor-store';
import {
  crashPage,
  journey,
  openTab,
  openTabs,
  orgConnections,
  publishTasks,
  runProblems,
  setUpServerAndChromium,
  sleep,
  startTabsServer,
  type TabParams,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';
import { lastSeq, settle, startPublisher } from './navigation';

// `persistCursor: true` end to end: the shared cursor kept in IndexedDB per
// app, org and user (docs/options.md, docs/concepts.md "Where a tab's events
// start"). Every tab of a scope is closed (or crashed), events are published
// meanwhile, a tab is opened again in the same browser context (the same
// storage): it resumes from the kept cursor, so it gets the events it missed,
// once, in order, then the live ones. Without the option it starts at the
// server's head (the control). Also: scopes kept apart, a cursor the server
// can no longer replay from (`resync`), hostile or corrupt values in the
// database, and reloads while events flow.

const env = setUpServerAndChromium();

type RawScope = { org: string; user: string };

/** The record's key: the scope's channel name under the default appKey. */
const keyOf = ({ org, user }: RawScope) => channelName('tabwire', { orgId: org, userId: user });

/** What the fixture page exposes beyond `tabData`. */
type PersistGlobal = {
  __tw: {
    resyncs: Array<{ services: string[]; reason: string }>;
    lastLoad: Record<string, number[]>;
  };
};

const resyncsOf = (page: Page) =>
  page.evaluate(() => (window as unknown as PersistGlobal).__tw.resyncs.map((r) => ({ ...r })));

/**
 * A page of the origin that runs no tabwire (the dev server's 404), from
 * which the tests read and write the cursor database as another script of
 * the origin could.
 */
async function storagePage(context: BrowserContext, origin: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/_build/no-such-file`);
  return page;
}

/**
 * Runs `body` (an expression of `store`, an IDBObjectStore of the cursor
 * database, opened at version 1 as tabwire opens it) in one transaction in
 * `page`; resolves with the last request's result.
 */
function inStore<T>(page: Page, mode: 'readonly' | 'readwrite', body: string): Promise<T> {
  return page.evaluate(`new Promise((resolve, reject) => {
    const open = indexedDB.open(${JSON.stringify(CURSOR_DB_NAME)}, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(${JSON.stringify(CURSOR_STORE_NAME)});
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(${JSON.stringify(CURSOR_STORE_NAME)}, ${JSON.stringify(mode)});
      const store = tx.objectStore(${JSON.stringify(CURSOR_STORE_NAME)});
      const request = (${body});
      let result;
      request.onsuccess = () => { result = request.result; };
      tx.oncomplete = () => { db.close(); resolve(result); };
      tx.onabort = () => { db.close(); reject(tx.error); };
    };
  })`);
}

/** The stored record of `scope` (undefined when none). */
function readStored(page: Page, scope: RawScope): Promise<unknown> {
  return inStore(page, 'readonly', `store.get(${JSON.stringify(keyOf(scope))})`);
}

/** Stores the value of the JS expression `valueSource` (evaluated in the page) as the record of `scope`. */
function writeStored(page: Page, scope: RawScope, valueSource: string): Promise<unknown> {
  return inStore(page, 'readwrite', `store.put(${valueSource}, ${JSON.stringify(keyOf(scope))})`);
}

/** Deletes the whole cursor database (every tab using it must be closed). */
function deleteDatabase(page: Page): Promise<void> {
  return page.evaluate(
    (name) =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error('deleteDatabase blocked'));
      }),
    CURSOR_DB_NAME,
  );
}

/**
 * The last tasks seq any page of `scope` in the context delivered, closed
 * ones included (the fixture keeps what each load delivered in localStorage).
 */
function lastDelivered(page: Page, { org, user }: RawScope): Promise<number> {
  return page.evaluate((prefix) => {
    let last = 0;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i)!;
      if (!key.startsWith(prefix)) continue;
      const seqs = (JSON.parse(localStorage.getItem(key)!) as { tasks?: number[] }).tasks ?? [];
      last = Math.max(last, ...seqs);
    }
    return last;
  }, `tw:delivered:${org}:${user}:`);
}

/** The tasks seq stored for `scope`, once the record is a valid one (else undefined). */
async function storedSeq(page: Page, scope: RawScope): Promise<number | undefined> {
  const record = (await readStored(page, scope)) as
    | { v?: unknown; cursor?: { tasks?: unknown }; savedAt?: unknown }
    | undefined;
  if (record?.v !== 1 || typeof record.savedAt !== 'number') return undefined;
  const seq = record.cursor?.tasks;
  return typeof seq === 'number' ? seq : undefined;
}

async function waitConnected(page: Page, what: string): Promise<void> {
  await waitUntil(async () => (await tabState(page)).status === 'connected', {
    timeoutMs: 8000,
    message: `${what} connected`,
  });
}

/** Waits until every page delivered up to `seq`, then gives a late duplicate room to show. */
async function allAt(pages: readonly Page[], seq: number, what: string): Promise<void> {
  await waitUntil(async () => (await Promise.all(pages.map(lastSeq))).every((s) => s === seq), {
    timeoutMs: 8000,
    message: `${what} at seq ${seq}`,
  }).catch(async (e: Error) => {
    throw new Error(`${e.message}; at ${JSON.stringify(await Promise.all(pages.map(lastSeq)))}`);
  });
  await sleep(150);
}

async function noConnections(server: DevServer, org: string): Promise<void> {
  await waitUntil(() => orgConnections(server, org).length === 0, {
    timeoutMs: 8000,
    message: `no connection of ${org} left`,
  });
}

/**
 * Opens one tab again, publishes live events for a while and returns what
 * it delivered (all of it, up to the last live seq) and its resyncs.
 */
async function reopenAndRun(
  context: BrowserContext,
  server: DevServer,
  params: TabParams,
  errors: string[],
  liveMs = 400,
) {
  const page = await openTab(context, server.origin, params, errors);
  await waitConnected(page, `reopened ${params.org}`);
  const live = startPublisher(server, params.org, 'live');
  await sleep(liveMs);
  const end = live.stop();
  await allAt([page], end, `reopened ${params.org}`);
  const data = await tabData(page);
  return { page, end, seqs: data.seqs.tasks ?? [], errors: data.errors, resyncs: await resyncsOf(page) };
}

/**
 * Exactly once across the close: the reopened tab starts right after `last`
 * (what the closed tabs delivered), with nothing repeated, lost or resynced.
 */
function expectResumedAfter(
  reopened: Awaited<ReturnType<typeof reopenAndRun>>,
  last: number,
  errors: string[],
) {
  expect(reopened.seqs[0]).toBe(last + 1);
  expect(runProblems(reopened.seqs, last + 1, reopened.end)).toEqual([]);
  expect(reopened.resyncs).toEqual([]);
  expect(reopened.errors).toEqual([]);
  expect(errors).toEqual([]);
}

describe('persistCursor in real Chromium', () => {
  it('every tab closed, events published meanwhile, a tab reopened: it gets exactly the missed events, then the live ones', async () => {
    const org = 'org_persist_closed';
    const scope = { org, user: 'u_1' };
    const params: TabParams = { org, persist: true };
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs = await openTabs(context, env.server.origin, 2, params, errors);
    await settle(env.server, scope, tabs, 'two tabs');
    const publisher = startPublisher(env.server, org, 'before');
    await sleep(500);
    const last = publisher.stop();
    await allAt(tabs, last, 'both tabs');
    for (const page of tabs) expect(runProblems(await tabSeqs(page), 1, last)).toEqual([]);
    // The coalesced write (250 ms) lands while the tabs live: a write a
    // closing page starts is not committed (see the tests further down).
    const storage = await storagePage(context, env.server.origin);
    await waitUntil(async () => (await storedSeq(storage, scope)) === last, {
      timeoutMs: 5000,
      message: `seq ${last} stored`,
    });
    await Promise.all(tabs.map((page) => page.close()));
    await noConnections(env.server, org);
    const missedTo = publishTasks(env.server, org, 40);
    expect(await readStored(storage, scope)).toEqual({
      v: 1,
      cursor: { tasks: last },
      savedAt: expect.any(Number),
      resetAt: 0,
    });
    await storage.close();

    const reopened = await reopenAndRun(context, env.server, params, errors);
    expect(reopened.end).toBeGreaterThan(missedTo);
    expectResumedAfter(reopened, last, errors);
    await context.close();
  });

  journey(
    'control: without persistCursor a tab reopened after every tab closed starts at the server head',
    async () => {
      const org = 'org_persist_control';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const tabs = await openTabs(context, env.server.origin, 2, params, errors);
      await settle(env.server, scope, tabs, 'two tabs');
      const last = publishTasks(env.server, org, 30);
      await allAt(tabs, last, 'both tabs');
      await Promise.all(tabs.map((page) => page.close()));
      await noConnections(env.server, org);
      const missedTo = publishTasks(env.server, org, 40);

      const storage = await storagePage(context, env.server.origin);
      expect(await readStored(storage, scope)).toBeUndefined();
      await storage.close();

      const reopened = await reopenAndRun(context, env.server, params, errors);
      expect(runProblems(reopened.seqs, missedTo + 1, reopened.end)).toEqual([]);
      expect(reopened.resyncs).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  journey(
    'every tab closed while events flow: the reopened tab resumes right after the last event a tab delivered',
    async () => {
      const org = 'org_persist_closed_flowing';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const tabs = await openTabs(context, env.server.origin, 2, params, errors);
      await settle(env.server, scope, tabs, 'two tabs');
      const publisher = startPublisher(env.server, org, 'before');
      await sleep(400);
      // Writes are coalesced (250 ms) and a closing page's own IndexedDB write
      // may not be committed; when it is, the page still delivers events after
      // it: the record lags what the tabs delivered. The cursor the closing
      // pages left in localStorage makes up for it on the next load.
      const shownEarlier = Math.min(...(await Promise.all(tabs.map(lastSeq))));
      await sleep(1000);
      await Promise.all(tabs.map((page) => page.close()));
      await noConnections(env.server, org);
      await sleep(100);
      const closedTo = publisher.stop();

      const storage = await storagePage(context, env.server.origin);
      const stored = await storedSeq(storage, scope);
      const delivered = await lastDelivered(storage, scope);
      await storage.close();
      expect(stored).toBeGreaterThanOrEqual(shownEarlier);
      expect(delivered).toBeGreaterThanOrEqual(stored!);
      expect(delivered).toBeLessThan(closedTo);

      const reopened = await reopenAndRun(context, env.server, params, errors);
      expectResumedAfter(reopened, delivered, errors);
      await context.close();
    },
  );

  journey(
    'the only tab closed while events flow: the reopened tab resumes right after its last event',
    async () => {
      // One tab: no other tab lives on to write the cursor after it, so what
      // came after the last coalesced write is only in what the closing page
      // left in localStorage.
      const org = 'org_persist_closed_flowing_one';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const page = await openTab(context, env.server.origin, params, errors);
      await waitConnected(page, 'the tab');
      const publisher = startPublisher(env.server, org, 'before');
      await sleep(1000);
      await page.close();
      await noConnections(env.server, org);
      await sleep(100);
      const closedTo = publisher.stop();

      const storage = await storagePage(context, env.server.origin);
      const stored = await storedSeq(storage, scope);
      const delivered = await lastDelivered(storage, scope);
      await storage.close();
      expect(delivered).toBeGreaterThanOrEqual(stored!);
      expect(delivered).toBeLessThan(closedTo);

      const reopened = await reopenAndRun(context, env.server, params, errors);
      expectResumedAfter(reopened, delivered, errors);
      await context.close();
    },
  );

  journey(
    'the leader crashed while events flow, then the last tab closed: the reopened tab resumes where the survivor was',
    async () => {
      const org = 'org_persist_crash';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const tabs = await openTabs(context, env.server.origin, 2, params, errors);
      const { leader } = await settle(env.server, scope, tabs, 'two tabs');
      const crashed = tabs[leader]!;
      const survivor = tabs[1 - leader]!;
      const publisher = startPublisher(env.server, org, 'before');
      await sleep(400);
      await crashPage(crashed);
      await waitUntil(async () => (await tabState(survivor)).isLeader, {
        timeoutMs: 8000,
        message: 'the survivor leads',
      });
      await sleep(500);
      const last = publisher.stop();
      await allAt([survivor], last, 'the survivor');
      expect(runProblems(await tabSeqs(survivor), 1, last)).toEqual([]);
      const storage = await storagePage(context, env.server.origin);
      await waitUntil(async () => (await storedSeq(storage, scope)) === last, {
        timeoutMs: 5000,
        message: `seq ${last} stored by the survivor`,
      });
      await survivor.close();
      await crashed.close();
      await noConnections(env.server, org);
      const missedTo = publishTasks(env.server, org, 40);
      expect(await storedSeq(storage, scope)).toBe(last);
      await storage.close();

      const reopened = await reopenAndRun(context, env.server, params, errors);
      expect(runProblems(reopened.seqs, last + 1, reopened.end)).toEqual([]);
      expect(reopened.end).toBeGreaterThan(missedTo);
      expect(reopened.resyncs).toEqual([]);
      expect(reopened.errors).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  journey(
    'every tab crashed while events flow (no pagehide): the reopened tab resumes from the last coalesced write, nothing lost',
    async () => {
      const org = 'org_persist_crash_all';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const tabs = await openTabs(context, env.server.origin, 2, params, errors);
      await settle(env.server, scope, tabs, 'two tabs');
      const publisher = startPublisher(env.server, org, 'before');
      await sleep(400);
      // Writes are coalesced (250 ms): what the tabs showed a second before
      // the crash is stored by then, even on a loaded machine.
      const shownEarlier = Math.min(...(await Promise.all(tabs.map(lastSeq))));
      await sleep(1000);
      const shownLast = Math.max(...(await Promise.all(tabs.map(lastSeq))));
      await Promise.all(tabs.map(crashPage));
      await noConnections(env.server, org);
      await sleep(100);
      publisher.stop();
      await Promise.all(tabs.map((page) => page.close()));

      const storage = await storagePage(context, env.server.origin);
      const stored = await storedSeq(storage, scope);
      await storage.close();
      expect(stored).toBeGreaterThanOrEqual(shownEarlier);

      const reopened = await reopenAndRun(context, env.server, params, errors);
      // Nothing lost: it starts right after the stored cursor, at or before what the tabs had.
      expect(runProblems(reopened.seqs, stored! + 1, reopened.end)).toEqual([]);
      expect(reopened.seqs[0]).toBeLessThanOrEqual(Math.max(shownLast + 1, stored! + 1));
      expect(reopened.resyncs).toEqual([]);
      expect(reopened.errors).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it('a quiet scope (no event while its only tab was open), closed, events published, reopened: it gets what it missed', async () => {
    const org = 'org_persist_quiet';
    const scope = { org, user: 'u_1' };
    const params: TabParams = { org, persist: true };
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const head = publishTasks(env.server, org, 5);
    const page = await openTab(context, env.server.origin, params, errors);
    await waitConnected(page, 'the tab');
    // Open for more than the write delay, without an event.
    await sleep(800);
    expect(await tabSeqs(page)).toEqual([]);
    await page.close();
    await noConnections(env.server, org);
    const missedTo = publishTasks(env.server, org, 20);

    const storage = await storagePage(context, env.server.origin);
    expect(await storedSeq(storage, scope)).toBe(head);
    await storage.close();

    const reopened = await reopenAndRun(context, env.server, params, errors);
    expect(runProblems(reopened.seqs, head + 1, reopened.end)).toEqual([]);
    expect(reopened.end).toBeGreaterThan(missedTo);
    expect(reopened.resyncs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  journey(
    'three scopes in one origin (two users of one org, another org) each resume their own cursor',
    async () => {
      const orgA = 'org_persist_scope_a';
      const orgB = 'org_persist_scope_b';
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const a1: TabParams = { org: orgA, user: 'u1', persist: true };
      const a2: TabParams = { org: orgA, user: 'u2', persist: true };
      const b1: TabParams = { org: orgB, user: 'u1', persist: true };
      // Org B far ahead of org A: a cursor of B read in A would be from A's future.
      publishTasks(env.server, orgB, 200);
      const pages = {
        a1: await openTab(context, env.server.origin, a1, errors),
        a2: await openTab(context, env.server.origin, a2, errors),
        b1: await openTab(context, env.server.origin, b1, errors),
      };
      for (const [name, page] of Object.entries(pages)) await waitConnected(page, name);
      const a2At = publishTasks(env.server, orgA, 10);
      await allAt([pages.a1, pages.a2], a2At, 'a1 and a2');
      const storage = await storagePage(context, env.server.origin);
      const written = async (scope: RawScope, seq: number) =>
        waitUntil(async () => (await storedSeq(storage, scope)) === seq, {
          timeoutMs: 5000,
          message: `${scope.org}/${scope.user} stored ${seq}`,
        });
      await written({ org: orgA, user: 'u2' }, a2At);
      await pages.a2.close();
      const a1At = publishTasks(env.server, orgA, 20);
      const b1At = publishTasks(env.server, orgB, 15);
      await allAt([pages.a1], a1At, 'a1');
      await allAt([pages.b1], b1At, 'b1');
      await written({ org: orgA, user: 'u1' }, a1At);
      await written({ org: orgB, user: 'u1' }, b1At);
      await Promise.all([pages.a1.close(), pages.b1.close()]);
      await noConnections(env.server, orgA);
      await noConnections(env.server, orgB);
      expect({
        a1: await storedSeq(storage, { org: orgA, user: 'u1' }),
        a2: await storedSeq(storage, { org: orgA, user: 'u2' }),
        b1: await storedSeq(storage, { org: orgB, user: 'u1' }),
      }).toEqual({ a1: a1At, a2: a2At, b1: b1At });
      // A page goes on delivering for a moment after its close (Chromium runs
      // it past `pagehide`): each scope resumes right after what its pages
      // delivered, at or after what was stored.
      const from = {
        a1: (await lastDelivered(storage, { org: orgA, user: 'u1' })) + 1,
        a2: (await lastDelivered(storage, { org: orgA, user: 'u2' })) + 1,
        b1: (await lastDelivered(storage, { org: orgB, user: 'u1' })) + 1,
      };
      expect(from.a1).toBeGreaterThan(a1At);
      expect(from.a2).toBeGreaterThan(a2At);
      expect(from.b1).toBeGreaterThan(b1At);
      await storage.close();
      const aHead = publishTasks(env.server, orgA, 5);
      const bHead = publishTasks(env.server, orgB, 5);

      const again = {
        a1: await openTab(context, env.server.origin, a1, errors),
        a2: await openTab(context, env.server.origin, a2, errors),
        b1: await openTab(context, env.server.origin, b1, errors),
      };
      for (const [name, page] of Object.entries(again)) await waitConnected(page, `${name} again`);
      await allAt([again.a1, again.a2], aHead, 'a1 and a2 again');
      await allAt([again.b1], bHead, 'b1 again');
      expect({
        a1: runProblems(await tabSeqs(again.a1), from.a1, aHead),
        a2: runProblems(await tabSeqs(again.a2), from.a2, aHead),
        b1: runProblems(await tabSeqs(again.b1), from.b1, bHead),
      }).toEqual({ a1: [], a2: [], b1: [] });
      for (const page of Object.values(again)) {
        expect(await resyncsOf(page)).toEqual([]);
        expect((await tabData(page)).errors).toEqual([]);
      }
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  journey(
    'a cursor the server can no longer replay from: the reopened tab gets `resync` (buffer_expired), then the live events, and the next visit resumes',
    async () => {
      // A server of its own, with a replay buffer of 20 events.
      const server = await startTabsServer({ replayBufferSize: 20 });
      const context = await env.browser.newContext();
      try {
        const org = 'org_persist_expired';
        const scope = { org, user: 'u_1' };
        const params: TabParams = { org, persist: true };
        const errors: string[] = [];
        const first = await openTab(context, server.origin, params, errors);
        await waitConnected(first, 'first visit');
        const last = publishTasks(server, org, 10);
        await allAt([first], last, 'first visit');
        const storage = await storagePage(context, server.origin);
        await waitUntil(async () => (await storedSeq(storage, scope)) === last, {
          timeoutMs: 5000,
          message: `seq ${last} stored`,
        });
        await first.close();
        await noConnections(server, org);
        const head = publishTasks(server, org, 100);

        const second = await reopenAndRun(context, server, params, errors);
        expect(second.resyncs).toEqual([{ services: ['tasks'], reason: 'buffer_expired' }]);
        expect((await tabState(second.page)).counters.resyncs).toBe(1);
        // Nothing of the lost span is made up, and nothing after the reset is skipped.
        expect(runProblems(second.seqs, head + 1, second.end)).toEqual([]);
        await waitUntil(async () => (await storedSeq(storage, scope)) === second.end, {
          timeoutMs: 5000,
          message: `seq ${second.end} stored`,
        });
        await second.page.close();
        await noConnections(server, org);
        await storage.close();

        // The reset's cursor was stored: the next visit, within the buffer, is replayed.
        const missedTo = publishTasks(server, org, 5);
        const third = await reopenAndRun(context, server, params, errors);
        expect(third.resyncs).toEqual([]);
        expect(runProblems(third.seqs, second.end + 1, third.end)).toEqual([]);
        expect(third.end).toBeGreaterThan(missedTo);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
        await server.close();
      }
    },
  );

  journey(
    'hostile or corrupt values in the cursor database: no error reaches the app, the tab gets its events, the value is overwritten',
    async () => {
      const org = 'org_persist_hostile';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const storage = await storagePage(context, env.server.origin);
      // Each is what another script of the origin, an older or newer bundle,
      // or a broken disk may leave under the scope's key.
      const corrupt: Array<[string, string]> = [
        ['a string', `'garbage'`],
        ['null', 'null'],
        ['an array', '[1, 2, 3]'],
        ['no cursor', '({ v: 1, savedAt: 1 })'],
        ['a string seq', `({ v: 1, cursor: { tasks: '5' }, savedAt: 1 })`],
        ['a negative seq', '({ v: 1, cursor: { tasks: -3 }, savedAt: 1 })'],
        ['a fractional seq', '({ v: 1, cursor: { tasks: 2.5 }, savedAt: 1 })'],
        ['an unsafe seq', '({ v: 1, cursor: { tasks: 2 ** 60 }, savedAt: 1 })'],
        ['NaN', '({ v: 1, cursor: { tasks: NaN }, savedAt: 1 })'],
        ['an invalid service name', `({ v: 1, cursor: { 'no spaces here': 1, tasks: 1 }, savedAt: 1 })`],
        ['an own __proto__', `({ v: 1, cursor: JSON.parse('{"__proto__": 1, "tasks": 1}'), savedAt: 1 })`],
        ['another format version', '({ v: 2, cursor: { tasks: 1 }, savedAt: 1 })'],
        ['a string savedAt', `({ v: 1, cursor: { tasks: 1 }, savedAt: 'now' })`],
        ['a 4 MB string', `'x'.repeat(4 * 1024 * 1024)`],
        ['a cursor of a Date', '({ v: 1, cursor: new Date(), savedAt: 1 })'],
      ];
      for (const [what, source] of corrupt) {
        await writeStored(storage, scope, source);
        // The cursor the previous page left on unload would be folded over the
        // corrupt record (and rightly resume it): this is about the record alone.
        await storage.evaluate((key) => {
          for (const k of Object.keys(localStorage))
            if (k.startsWith(`${key}:unload:`)) localStorage.removeItem(k);
        }, keyOf(scope));
        const head = publishTasks(env.server, org, 3);
        const page = await openTab(context, env.server.origin, params, errors);
        await waitConnected(page, `a tab over ${what}`);
        const to = publishTasks(env.server, org, 3);
        await allAt([page], to, `a tab over ${what}`);
        const data = await tabData(page);
        // Ignored: the tab starts where a tab without a stored cursor does.
        expect({ what, problems: runProblems(data.seqs.tasks ?? [], head + 1, to) }).toEqual({
          what,
          problems: [],
        });
        expect({ what, errors: data.errors, resyncs: await resyncsOf(page) }).toEqual({
          what,
          errors: [],
          resyncs: [],
        });
        // Overwritten by the next write.
        await waitUntil(async () => (await storedSeq(storage, scope)) === to, {
          timeoutMs: 5000,
          message: `the record over ${what} overwritten`,
        });
        await page.close();
        await noConnections(env.server, org);
      }
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  journey(
    'a valid cursor from far beyond the server head: `resync` (epoch_changed), the live events, the stored cursor moved back',
    async () => {
      const org = 'org_persist_future';
      const scope = { org, user: 'u_1' };
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const head = publishTasks(env.server, org, 5);
      const storage = await storagePage(context, env.server.origin);
      await writeStored(storage, scope, '({ v: 1, cursor: { tasks: 1e12 }, savedAt: Date.now() })');
      const reopened = await reopenAndRun(context, env.server, params, errors);
      expect(reopened.resyncs).toEqual([{ services: ['tasks'], reason: 'epoch_changed' }]);
      expect(runProblems(reopened.seqs, head + 1, reopened.end)).toEqual([]);
      expect(reopened.errors).toEqual([]);
      await waitUntil(async () => (await storedSeq(storage, scope)) === reopened.end, {
        timeoutMs: 5000,
        message: 'the stored cursor moved back to the server head',
      });
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  journey(
    'a foreign cursor database (a newer version, or one without the store): no error reaches the app, the tab gets its events',
    async () => {
      const org = 'org_persist_foreign_db';
      const params: TabParams = { org, persist: true };
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const storage = await storagePage(context, env.server.origin);
      const databases: Array<[string, number]> = [
        ['a newer version', 7],
        ['version 1 without the object store', 1],
      ];
      for (const [what, version] of databases) {
        await deleteDatabase(storage);
        await storage.evaluate(
          ([name, v]) =>
            new Promise<void>((resolve, reject) => {
              const open = indexedDB.open(name, v);
              open.onupgradeneeded = () => open.result.createObjectStore('something-else');
              open.onsuccess = () => {
                open.result.close();
                resolve();
              };
              open.onerror = () => reject(open.error);
            }),
          [CURSOR_DB_NAME, version] as const,
        );
        const head = publishTasks(env.server, org, 2);
        const page = await openTab(context, env.server.origin, params, errors);
        await waitConnected(page, `a tab over ${what}`);
        const to = publishTasks(env.server, org, 3);
        await allAt([page], to, `a tab over ${what}`);
        const data = await tabData(page);
        expect({
          what,
          problems: runProblems(data.seqs.tasks ?? [], head + 1, to),
          errors: data.errors,
        }).toEqual({
          what,
          problems: [],
          errors: [],
        });
        await page.close();
        await noConnections(env.server, org);
      }
      await deleteDatabase(storage);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it("the only tab reloaded three times while events flow: each load resumes right after the previous load's last event", async () => {
    const org = 'org_persist_reload';
    const params: TabParams = { org, persist: true };
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const page = await openTab(context, env.server.origin, params, errors);
    await waitConnected(page, 'the tab');
    const publisher = startPublisher(env.server, org, 'flow');
    const loads: number[][] = [];
    try {
      await sleep(400);
      for (let i = 0; i < 3; i++) {
        await page.reload();
        await page.waitForFunction(() => (window as unknown as { __tw?: unknown }).__tw !== undefined);
        // What the previous load delivered, to its end (kept in sessionStorage as delivered).
        loads.push(await page.evaluate(() => (window as unknown as PersistGlobal).__tw.lastLoad.tasks ?? []));
        await waitConnected(page, `load ${i + 1}`);
        await sleep(400);
      }
    } finally {
      publisher.stop();
    }
    const end = publisher.last;
    await allAt([page], end, 'the last load');
    loads.push(await tabSeqs(page));
    // Each load in itself exactly once, in order, without a hole, and the
    // loads together too: each starts right after the previous load's last
    // event (the unloading page's IndexedDB write is not committed; the
    // cursor it leaves in localStorage is folded in on the next load).
    const problems = loads.map((seqs, i) => {
      const first = seqs[0] ?? 0;
      const previous = i === 0 ? 0 : (loads[i - 1]!.at(-1) ?? 0);
      const found = runProblems(seqs, undefined, seqs.at(-1) ?? 0);
      if (first > previous + 1) found.push(`starts at ${first}, after ${previous + 1}: lost`);
      if (first < previous + 1) found.push(`starts at ${first}, repeats ${first}..${previous}`);
      return { load: i, problems: found };
    });
    expect(problems).toEqual(loads.map((_, i) => ({ load: i, problems: [] })));
    expect(loads[0]![0]).toBe(1);
    expect(loads.at(-1)!.at(-1)).toBe(end);
    expect(await resyncsOf(page)).toEqual([]);
    expect((await tabData(page)).errors).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
