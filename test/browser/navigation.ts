import type { Page } from 'playwright-core';
import type { DevServer } from '../../src/devserver/index';
import type { RealtimeState } from '../../src/state';
import {
  type LeaderSample,
  orgConnections,
  runProblems,
  tabData,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// Shared by the navigation journeys (tabs-reload.test.ts, tabs-user-switch.test.ts):
// a steady publisher, a watch on the server's connections of one scope, and
// "settled": one connection, one leader, every tab on it.

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
 * connection that shows up between two checks of a test is seen too.
 */
export function watchConnections(server: DevServer, org: string, user: string) {
  const samples: Array<[number, number]> = [];
  const count = () => orgConnections(server, org).filter((c) => c.userId === user).length;
  const timer = setInterval(() => samples.push([performance.now(), count()]), 5);
  return {
    /** The most connections seen at once since `since` (a `performance.now()`). */
    maxSince(since: number): number {
      return Math.max(count(), ...samples.filter(([t]) => t >= since).map(([, n]) => n));
    },
    stop(): void {
      clearInterval(timer);
    },
  };
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
        states: states.map((s) => [s.status, s.isLeader, s.connectionId, s.leader.peers]),
      };
      const leaders = states.filter((s) => s.isLeader);
      const ok =
        connections.length === 1 &&
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
