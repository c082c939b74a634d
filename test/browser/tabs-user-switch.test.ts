import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  type ClosedTabClient,
  closedClients,
  journey,
  type LeaderSample,
  leaderOverlaps,
  openTab,
  orgConnections,
  reopenTab,
  runProblems,
  setUpServerAndChromium,
  sleep,
  type TabParams,
  tabData,
  tabState,
  waitUntil,
} from './harness';
import {
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

// A tab that switches its client without a reload, as an SPA does: logout
// and login as another user of another org (`close()`, then `createRealtime`
// with the other scope, in the same page), and a React provider remounted
// with a key (`close()`, then `createRealtime` with the same scope). The
// first user's other tabs keep one connection and get everything (one takes
// over when the switching tab led); the switched tab joins the other scope's
// election; no event crosses scopes; the closed client lets go of its lock,
// channel and connection, and hears nothing more.

const env = setUpServerAndChromium(startNavigationServer);

const U1 = (org: string) => ({ org, user: 'u1' });
const U2 = (org: string) => ({ org, user: 'u2' });

interface Check {
  name: string;
  events: ClosedTabClient['events'];
  load: Load;
  to: number;
  propertyId: string;
}

function problems({ events, load, to, propertyId }: Check): string[] {
  const seqs = events.map((e) => e.seq);
  const found = loadProblems(load, seqs, to);
  const foreign = events.filter((e) => e.propertyId !== propertyId);
  if (foreign.length > 0) found.push(`events of another scope: ${JSON.stringify(foreign.slice(0, 5))}`);
  if (seqs.length === 0) found.push('no events');
  return found;
}

/** Waits until the page's current client is `connected`; returns the server's last seq by then. */
async function connectedAt(page: Page, publisher: { last: number }, what: string): Promise<number> {
  const { seq } = await waitUntil(
    async () => ((await tabState(page)).status === 'connected' ? { seq: publisher.last } : undefined),
    { timeoutMs: 8000, message: `${what} connected` },
  );
  return seq;
}

describe('switching the client in a tab without a reload, in real Chromium', () => {
  // Over long-poll too: `close()` ends the client's waiting poll, but its
  // connection stays known to the server until unpolled for a while (a poll
  // cannot say goodbye), while the tabs left take over with one of their
  // own. Not over SSE: `close()` cancels the stream's fetch, and the server
  // sees its socket end, as it does when a leader reloads over SSE
  // (tabs-reload.test.ts).
  for (const { strategy, transport } of [
    { strategy: undefined },
    { strategy: 'storage' },
    { strategy: undefined, transport: 'long-poll' },
  ] as Array<{ strategy?: 'storage'; transport?: TransportName }>) {
    const label = `${strategy ?? 'default'} election${transport ? ` over ${transport}` : ''}`;
    (strategy || transport ? journey : it)(
      `logout/login as another user of another org, from the leader and back from a follower (${label})`,
      async () => {
        const suffix = `${strategy ?? 'default'}${transport ? `_${transport}` : ''}`;
        const orgA = `org_switch_a_${suffix}`;
        const orgB = `org_switch_b_${suffix}`;
        const context = await env.browser.newContext();
        const errors: string[] = [];
        const params = (scope: { org: string; user: string }): TabParams => ({
          ...scope,
          ...(strategy && { strategy }),
          ...(transport && { transports: [transport] }),
        });
        const [a, b, c] = [
          await openTab(context, env.server.origin, params(U1(orgA)), errors),
          await openTab(context, env.server.origin, params(U1(orgA)), errors),
          await openTab(context, env.server.origin, params(U1(orgA)), errors),
        ] as [Page, Page, Page];
        const d = await openTab(context, env.server.origin, params(U2(orgB)), errors);
        let settledA = await settle(env.server, U1(orgA), [a, b, c], 'u1 tabs');
        // The tab that switches leads its scope.
        if (settledA.leader !== 0) throw new Error('the first tab opened should lead');
        await settle(env.server, U2(orgB), [d], 'u2 tab');
        if (transport) {
          expect(
            env.server
              .connections()
              .filter((c) => c.orgId === orgA || c.orgId === orgB)
              .map((c) => c.transport),
          ).toEqual([transport, transport]);
        }
        const firstA = orgConnections(env.server, orgA)[0]!.connectionId;
        const onlyB = orgConnections(env.server, orgB)[0]!.connectionId;

        const watchA = watchConnections(env.server, orgA, 'u1');
        const watchB = watchConnections(env.server, orgB, 'u2');
        const pubA = startPublisher(env.server, orgA, 'prop_a');
        const pubB = startPublisher(env.server, orgB, 'prop_b');
        const loadsOfA: Load[] = [{ name: 'a as u1' }];
        try {
          await sleep(300);
          // ── the leader of u1 logs out and in as u2 of org B ──
          loadsOfA.push({ name: 'a as u2', floor: await lastSeq(d) });
          const leftAt = performance.now();
          await reopenTab(a, orgB, 'u2');
          loadsOfA[1]!.connectedAt = await connectedAt(a, pubB, 'a as u2');
          settledA = await settle(env.server, U1(orgA), [b, c], 'u1 tabs without a');
          // The server forgot the closed client's connection, in time.
          expect(watchA.forgottenAfter(leftAt + goneWithinMs(transport))).toEqual([]);
          const settledB = await settle(env.server, U2(orgB), [a, d], 'a joined u2');
          // The u1 tabs took over with a connection of their own; u2's stayed.
          const secondA = orgConnections(env.server, orgA)[0]!.connectionId;
          expect(secondA).not.toBe(firstA);
          expect(orgConnections(env.server, orgB)[0]!.connectionId).toBe(onlyB);
          expect((await tabState(a)).isLeader).toBe(false);
          await sleep(400);
          expect(watchA.maxSince(settledA.at)).toBe(1);
          expect(watchB.maxSince(settledB.at)).toBe(1);

          // ── back as u1, from a u2 follower: neither scope's connection changes ──
          loadsOfA.push({ name: 'a as u1 again', floor: Math.min(await lastSeq(b), await lastSeq(c)) });
          await reopenTab(a, orgA, 'u1');
          loadsOfA[2]!.connectedAt = await connectedAt(a, pubA, 'a as u1 again');
          const again = await settle(env.server, U1(orgA), [a, b, c], 'a back among u1');
          await settle(env.server, U2(orgB), [d], 'u2 alone again');
          expect(orgConnections(env.server, orgA)[0]!.connectionId).toBe(secondA);
          expect(orgConnections(env.server, orgB)[0]!.connectionId).toBe(onlyB);
          await sleep(400);
          expect(watchA.maxSince(again.at)).toBe(1);
          expect(watchB.maxSince(settledB.at)).toBe(1);
        } finally {
          pubA.stop();
          pubB.stop();
          watchA.stop();
          watchB.stop();
        }
        const [lastA, lastB] = [pubA.last, pubB.last];
        await waitUntil(
          async () =>
            (await Promise.all([a, b, c].map(lastSeq))).every((s) => s === lastA) &&
            (await lastSeq(d)) === lastB,
          { message: `u1 tabs at ${lastA}, u2 tab at ${lastB}` },
        );
        const closedBefore = (await closedClients(a)).map((client) => client.events.length);
        await sleep(300); // room for a late duplicate, or a closed client's late event, to show

        const closed = await closedClients(a);
        // A closed client's handlers ran no more.
        expect(closed.map((client) => client.events.length)).toEqual(closedBefore);
        expect(closed.map((client) => [client.org, client.user])).toEqual([
          [orgA, 'u1'],
          [orgB, 'u2'],
        ]);
        const [dataA, dataB, dataC, dataD] = await Promise.all([a, b, c, d].map(tabData));
        const checks: Check[] = [
          { name: 'b', events: dataB!.events, load: { name: 'b' }, to: lastA, propertyId: 'prop_a' },
          { name: 'c', events: dataC!.events, load: { name: 'c' }, to: lastA, propertyId: 'prop_a' },
          { name: 'd', events: dataD!.events, load: { name: 'd' }, to: lastB, propertyId: 'prop_b' },
          ...closed.map((client, i) => ({
            name: loadsOfA[i]!.name,
            events: client.events,
            load: loadsOfA[i]!,
            to: client.events.at(-1)?.seq ?? 0,
            propertyId: client.org === orgA ? 'prop_a' : 'prop_b',
          })),
          {
            name: 'a as u1 again',
            events: dataA!.events,
            load: loadsOfA[2]!,
            to: lastA,
            propertyId: 'prop_a',
          },
        ];
        for (const check of checks) {
          expect({ client: check.name, problems: problems(check) }).toEqual({
            client: check.name,
            problems: [],
          });
        }
        // Never two leaders of one scope (the clients of `a` count apart).
        const samplesA: Record<string, LeaderSample[]> = {
          'a as u1': closed[0]!.samples,
          b: dataB!.samples,
          c: dataC!.samples,
          'a as u1 again': dataA!.samples,
        };
        expect(leaderOverlaps(samplesA)).toEqual([]);
        expect(leaderOverlaps({ 'a as u2': closed[1]!.samples, d: dataD!.samples })).toEqual([]);
        expect([dataA, dataB, dataC, dataD].flatMap((data) => data!.errors)).toEqual([]);
        expect(errors).toEqual([]);
        await context.close();
        await nothingLeft(env.server, [orgA, orgB]);
      },
    );
  }

  journey(
    'switched back and forth quickly (clients closed while electing or connecting): nothing leaks',
    async () => {
      const orgA = 'org_flip_a';
      const orgB = 'org_flip_b';
      const context = await env.browser.newContext();
      const errors: string[] = [];
      const a = await openTab(context, env.server.origin, U1(orgA), errors);
      const b = await openTab(context, env.server.origin, U1(orgA), errors);
      await settle(env.server, U1(orgA), [a, b], 'two u1 tabs');
      const pubA = startPublisher(env.server, orgA, 'prop_a');
      const pubB = startPublisher(env.server, orgB, 'prop_b');
      const load: Load = { name: 'a at the end' };
      try {
        await sleep(300);
        // Each client is closed this long after it was created: before its
        // lock, while it fetches a token, while its socket opens, connected.
        for (const ms of [0, 5, 20, 60, 150, 400]) {
          await reopenTab(a, orgB, 'u2');
          await sleep(ms);
          load.floor = await lastSeq(b);
          await reopenTab(a, orgA, 'u1');
          await sleep(ms);
        }
        load.connectedAt = await connectedAt(a, pubA, load.name);
        await settle(env.server, U1(orgA), [a, b], 'a back among u1');
        // The u2 clients are all closed: none of their connections stays.
        await waitUntil(() => orgConnections(env.server, orgB).length === 0, {
          message: 'no connection of u2 left',
        }).catch((e: Error) => {
          throw new Error(`${e.message}: ${JSON.stringify(orgConnections(env.server, orgB))}`);
        });
        await sleep(400);
      } finally {
        pubA.stop();
        pubB.stop();
      }
      const last = pubA.last;
      await waitUntil(async () => (await lastSeq(a)) === last && (await lastSeq(b)) === last, {
        message: `both tabs at ${last}`,
      });
      await sleep(300);
      const [dataA, dataB] = await Promise.all([a, b].map(tabData));
      expect(
        problems({ name: 'b', events: dataB!.events, load: { name: 'b' }, to: last, propertyId: 'prop_a' }),
      ).toEqual([]);
      expect(
        problems({ name: load.name, events: dataA!.events, load, to: last, propertyId: 'prop_a' }),
      ).toEqual([]);
      const closed = await closedClients(a);
      expect(closed).toHaveLength(12);
      for (const client of closed) {
        const propertyId = client.org === orgA ? 'prop_a' : 'prop_b';
        const seqs = client.events.map((e) => e.seq);
        expect({
          org: client.org,
          foreign: client.events.filter((e) => e.propertyId !== propertyId),
        }).toEqual({
          org: client.org,
          foreign: [],
        });
        expect(runProblems(seqs, seqs[0], seqs.at(-1) ?? 0)).toEqual([]);
      }
      expect(orgConnections(env.server, orgA)).toHaveLength(1);
      expect(orgConnections(env.server, orgB)).toEqual([]);
      expect([...dataA!.errors, ...dataB!.errors]).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it('a provider remounted (close, then the same scope again) in the leader tab, three times: nothing lost, one connection', async () => {
    const org = 'org_remount';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const pages: Page[] = [];
    for (let i = 0; i < 3; i++) pages.push(await openTab(context, env.server.origin, U1(org), errors));
    let settled = await settle(env.server, U1(org), pages, 'three tabs');
    const watch = watchConnections(env.server, org, 'u1');
    const publisher = startPublisher(env.server, org, 'prop');
    // Per page, its clients' loads, oldest first (the last is the current one).
    const loads: Load[][] = pages.map((_, i) => [{ name: `tab${i}#0` }]);
    try {
      await sleep(300);
      // Not awaited, as a React effect cleanup does; then awaited; then the
      // new client created before the old one is closed.
      for (const [awaitClose, createFirst] of [
        [false, false],
        [true, false],
        [false, true],
      ] as const) {
        expect(watch.maxSince(settled.at)).toBe(1);
        const leader = settled.leader;
        const floor = Math.min(...(await Promise.all(pages.map(lastSeq))));
        const load: Load = { name: `tab${leader}#${loads[leader]!.length}`, floor };
        loads[leader]!.push(load);
        await reopenTab(pages[leader]!, org, 'u1', awaitClose, createFirst);
        load.connectedAt = await connectedAt(pages[leader]!, publisher, load.name);
        settled = await settle(env.server, U1(org), pages, `after remounting ${load.name}`);
        await sleep(400);
      }
      expect(watch.maxSince(settled.at)).toBe(1);
    } finally {
      publisher.stop();
      watch.stop();
    }
    const last = publisher.last;
    await waitUntil(async () => (await Promise.all(pages.map(lastSeq))).every((s) => s === last), {
      message: `every tab at ${last}`,
    });
    await sleep(300);
    const samples: Record<string, LeaderSample[]> = {};
    for (const [i, page] of pages.entries()) {
      const closed = await closedClients(page);
      const data = await tabData(page);
      const clients = [
        ...closed.map((client) => ({ ...client, current: false })),
        { ...data, current: true },
      ];
      expect(clients).toHaveLength(loads[i]!.length);
      for (const [j, client] of clients.entries()) {
        const load = loads[i]![j]!;
        const seqs = client.seqs.tasks ?? [];
        const to = client.current ? last : (seqs.at(-1) ?? 0);
        expect({ client: load.name, problems: loadProblems(load, seqs, to), any: seqs.length > 0 }).toEqual({
          client: load.name,
          problems: [],
          any: true,
        });
        samples[load.name] = client.samples;
      }
      expect(data.errors).toEqual([]);
    }
    expect(leaderOverlaps(samples)).toEqual([]);
    expect(orgConnections(env.server, org)).toHaveLength(1);
    expect(errors).toEqual([]);
    await context.close();
  });

  journey('a provider remounted in a tab alone: the new client wins again and resumes', async () => {
    const org = 'org_remount_alone';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const page = await openTab(context, env.server.origin, U1(org), errors);
    await settle(env.server, U1(org), [page], 'one tab');
    const publisher = startPublisher(env.server, org, 'prop');
    const loads: Load[] = [{ name: 'first' }];
    try {
      await sleep(300);
      for (const [awaitClose, createFirst] of [
        [false, false],
        [true, false],
        [false, true],
      ] as const) {
        const load: Load = { name: `remount ${loads.length}`, floor: await lastSeq(page) };
        loads.push(load);
        await reopenTab(page, org, 'u1', awaitClose, createFirst);
        load.connectedAt = await connectedAt(page, publisher, load.name);
        await settle(env.server, U1(org), [page], load.name);
        await sleep(300);
      }
    } finally {
      publisher.stop();
    }
    const last = publisher.last;
    await waitUntil(async () => (await lastSeq(page)) === last, { message: `the tab at ${last}` });
    await sleep(200);
    const closed = await closedClients(page);
    const current = (await tabData(page)).seqs.tasks ?? [];
    const all = [...closed.map((client) => client.seqs.tasks ?? []), current];
    for (const [i, seqs] of all.entries()) {
      const to = i === all.length - 1 ? last : (seqs.at(-1) ?? 0);
      expect({ client: loads[i]!.name, problems: loadProblems(loads[i]!, seqs, to) }).toEqual({
        client: loads[i]!.name,
        problems: [],
      });
    }
    // One connection, and the closed clients' are gone.
    expect(orgConnections(env.server, org)).toHaveLength(1);
    expect(runProblems(current, current[0], last)).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
