import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import type { DevServer, DevServerOptions } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import {
  type LeaderSample,
  orgConnections,
  runProblems,
  startTabsServer,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// Shared by the navigation journeys (tabs-reload.test.ts, tabs-user-switch.test.ts):
// a steady publisher, a watch on the server's connections of one scope, and
// "settled": one connection, one leader, every tab on it.

/** A built-in transport, as the tabs fixture's `transports` parameter names it. */
export type TransportName = 'websocket' | 'sse' | 'long-poll';

/**
 * How long the navigation tests' dev server keeps a long-poll connection
 * that nobody polls (docs/protocol.md: 60 s by default). Over HTTP a page
 * cannot say goodbye: a gone page's stream or waiting poll ends with its
 * socket at once, but its long-poll connection stays known this long, so
 * "one connection" is checked after each reload or switch within it.
 */
export const POLL_IDLE_MS = 2000;

/** The tabs fixture's dev server for the navigation journeys. */
export function startNavigationServer(options: DevServerOptions = {}): Promise<DevServer> {
  return startTabsServer({ pollIdleTimeoutMs: POLL_IDLE_MS, ...options });
}

/** Publishes one `tasks` event to `org` every `everyMs` (tagged with `propertyId`) until stopped. */
export function startPublisher(server: DevServer, org: string, propertyId: string, everyMs = 20) {
  let last = 0;
  const timer = setInterval(() => {
    last = server.publish(org, {
      service: 'tasks',
      entityType: 'task',
      type: 'task.updated',
      propertyId,
    }).seq;
  }, everyMs);
  return {
    /** The last seq published. */
    get last() {
      return last;
    },
    stop(): number {
      clearInterval(timer);
      return last;
    },
  };
}

/**
 * Counts the server's connections of one scope every 5 ms, so a second
 * connection that shows up between two checks of a test is seen too, and
 * notes when each was last seen.
 */
export function watchConnections(server: DevServer, org: string, user: string) {
  const samples: Array<[number, number]> = [];
  const lastSeen = new Map<string, number>();
  const ids = () =>
    orgConnections(server, org)
      .filter((c) => c.userId === user)
      .map((c) => c.connectionId);
  const timer = setInterval(() => {
    const now = performance.now();
    const seen = ids();
    for (const id of seen) lastSeen.set(id, now);
    samples.push([now, seen.length]);
  }, 5);
  return {
    /** The most connections seen at once since `since` (a `performance.now()`). */
    maxSince(since: number): number {
      return Math.max(ids().length, ...samples.filter(([t]) => t >= since).map(([, n]) => n));
    },
    /**
     * The connections (of `only`, when given) the server still held after
     * `at` (a `performance.now()`), but not now: those it took longer than
     * that to forget.
     */
    forgottenAfter(at: number, only?: readonly string[]): string[] {
      const now = ids();
      return [...lastSeen]
        .filter(([id, t]) => t > at && !now.includes(id) && (!only || only.includes(id)))
        .map(([id, t]) => `${id} seen ${Math.round(t - at)} ms late`);
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}

/**
 * How long after a page left (unloaded, or closed its client) the server may
 * still hold its connection, by docs/protocol.md: a WebSocket or an SSE
 * stream ends with the page's socket, at once; a long-poll connection is
 * forgotten once nobody polled it for `pollIdleTimeoutMs`. Plus room for a
 * busy machine.
 */
export function goneWithinMs(transport: TransportName | undefined): number {
  return (transport === 'long-poll' ? POLL_IDLE_MS : 0) + 1000;
}

/**
 * Waits until the scope has one connection at the server, every page shows
 * `connected` on it, exactly one leads, and each knows the others (its
 * `leader.peers`: a page gone without its `bye` would stay counted). Returns
 * the index of the leader and the `performance.now()` it settled at.
 */
export async function settle(
  server: DevServer,
  scope: { org: string; user: string },
  pages: readonly Page[],
  message: string,
): Promise<{ leader: number; at: number; states: RealtimeState[] }> {
  let last: unknown;
  return waitUntil(
    async () => {
      const states = await Promise.all(pages.map(tabState));
      const connections = orgConnections(server, scope.org).filter((c) => c.userId === scope.user);
      last = {
        connections: connections.map((c) => c.connectionId),
        server: serverProblems(server),
        states: states.map((s) => [s.status, s.isLeader, s.connectionId, s.leader.peers]),
      };
      const leaders = states.filter((s) => s.isLeader);
      const ok =
        connections.length === 1 &&
        serverProblems(server).length === 0 &&
        leaders.length === 1 &&
        states.every(
          (s) =>
            s.status === 'connected' &&
            s.connectionId === connections[0]!.connectionId &&
            s.leader.peers === pages.length - 1,
        );
      return ok ? { leader: states.findIndex((s) => s.isLeader), at: performance.now(), states } : undefined;
    },
    { timeoutMs: 8000, message: `${message} (settled: one connection, one leader, all on it)` },
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
  });
}

/** The last seq a page delivered (0 before any). */
export async function lastSeq(page: Page): Promise<number> {
  return (await tabSeqs(page)).at(-1) ?? 0;
}

/**
 * One page load of a tab (a reload starts another): what it must have seen.
 * Its first event must come after `floor` (the least any tab had delivered
 * when the load started: the leader answers a new tab with the shared cursor,
 * at least that) and no later than `connectedAt + 1` (the server's last seq
 * when the test first saw the page `connected`: everything after that point
 * is the tab's, docs/concepts.md "Where a tab's events start"). `undefined`
 * for a page opened before the first event: it must see 1 onwards.
 */
export interface Load {
  name: string;
  floor?: number;
  connectedAt?: number;
  seqs?: number[];
  samples?: LeaderSample[];
  errors?: string[];
}

/** What is wrong with what one page load delivered, up to `to` (empty when right). */
export function loadProblems(load: Load, seqs: readonly number[], to: number): string[] {
  if (load.floor === undefined) return runProblems(seqs, 1, to);
  const problems = runProblems(seqs, undefined, to);
  const first = seqs[0];
  if (first !== undefined && first <= load.floor)
    problems.push(`starts at ${first}, at or before ${load.floor}`);
  if (first !== undefined && load.connectedAt !== undefined && first > load.connectedAt + 1)
    problems.push(`starts at ${first}, after ${load.connectedAt + 1} (published once it was connected)`);
  if (first === undefined && load.connectedAt !== undefined && load.connectedAt < to)
    problems.push(`nothing, though ${load.connectedAt + 1}..${to} came after it connected`);
  return problems;
}

/** A page's snapshot as a load ends (before its reload or switch): its seqs, samples and errors. */
export async function endLoad(load: Load, page: Page): Promise<void> {
  const data = await tabData(page);
  load.seqs = data.seqs.tasks ?? [];
  load.samples = data.samples;
  load.errors = data.errors;
}

/**
 * What the dev server's poll-waiter counter (`metrics().pollWaiters`) says
 * against its connection list (empty when they agree): a waiting poll of a
 * page that is gone, ended without the server hearing of it, would stay
 * counted.
 */
export function serverProblems(server: DevServer): string[] {
  const { pollWaiters } = server.metrics();
  const waiting = server.connections().filter((c) => c.pollWaiting).length;
  return pollWaiters === waiting ? [] : [`metrics: ${pollWaiters} poll waiters, listed ${waiting}`];
}

/**
 * Once every page of `orgs` is gone (its context closed): waits until the
 * server holds no WebSocket, SSE stream or waiting poll of theirs. Each ends
 * with the page's socket, so within a second. A long-poll connection has no
 * socket of its own: docs/protocol.md has the server forget it once unpolled
 * for a while (`POLL_IDLE_MS` here), which `settle` checks after each reload
 * or switch (its one connection); not waited for here.
 */
export async function nothingLeft(server: DevServer, orgs: readonly string[]): Promise<void> {
  const open = () =>
    server
      .connections()
      .filter((c) => orgs.includes(c.orgId) && (c.transport !== 'long-poll' || c.pollWaiting === true));
  await waitUntil(() => open().length === 0, { timeoutMs: 1000, message: 'no stream or poll waiting' }).catch(
    (e: Error) => {
      throw new Error(`${e.message}: still open ${JSON.stringify(open())}`);
    },
  );
  expect(serverProblems(server)).toEqual([]);
}
