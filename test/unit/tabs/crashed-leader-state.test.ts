import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { CLAIM_SETTLE_MS } from '../../../src/tabs/storage-lease-election';
import { fakeBrowserEach } from './fake-browser-each';

// A leader tab that crashes says no goodbye: no `pagehide`, no `bye`, no last
// `state` message; its lease stays in storage (or, with Web Locks, the
// browser frees its lock). The followers mirrored its `connected`, its
// transport and its connection id. They kept showing them until the tab that
// took over posted its state, and that tab's first post was the very mirror
// it had shown as a follower: the dead leader's `connected` and connection
// id. Its own `connecting` then still carried the dead connection's id and
// transport, in every tab, for as long as its connects failed.

const TAKEOVER_MS = 3_000;

const browser = fakeBrowserEach();

type Strategy = 'storage' | 'locks';

/** A leader with a live connection and two followers mirroring it; returns the dead leader's connection id. */
async function crashTheLeader(strategy: Strategy): Promise<{ followers: RealtimeClient[]; deadId: string }> {
  const platform = strategy === 'locks' ? {} : { locks: undefined };
  const leader = browser().tab({ leader: { strategy }, platform });
  leader.subscribe('tasks', () => {});
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(2_000);
  const followers = [
    browser().tab({ leader: { strategy }, platform }),
    browser().tab({ leader: { strategy }, platform }),
  ];
  for (const tab of followers) tab.subscribe('tasks', () => {});
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(2_000);
  const deadId = leader.getState().connectionId;
  expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });
  expect(deadId).toBeDefined();
  for (const tab of followers) {
    expect(tab.getState()).toMatchObject({ isLeader: false, status: 'connected', connectionId: deadId });
  }
  // Its timers stop, its channel goes deaf and mute, the browser frees its
  // lock (its lease stays), the server sees its connection go; nothing of
  // its own code runs on the way out.
  browser().crash(leader);
  expect(browser().backend.connectionCount).toBe(0);
  // No new connection can be made for now, so the window in which the new
  // leader connects stays open.
  browser().backend.failNextConnects(1_000);
  return { followers, deadId: deadId! };
}

/** What a tab shows of the connection, and whether that is a live one no tab holds. */
function claimsDeadConnection(tab: RealtimeClient, deadId: string): boolean {
  const { status, connectionId, transport } = tab.getState();
  return status === 'connected' || connectionId === deadId || transport !== undefined;
}

describe('a crashed leader: the other tabs stop showing its connection', () => {
  it('storage lease: once the lease is stale, and through the takeover', async () => {
    const { followers, deadId } = await crashTheLeader('storage');
    // The lease is renewed every takeoverMs / 3 and polled at that pace:
    // stale by this time after the crash at the latest, and claimed.
    const staleBy = TAKEOVER_MS + TAKEOVER_MS / 3 + CLAIM_SETTLE_MS;
    const seen: string[] = [];
    for (let elapsed = 100; elapsed <= 20_000; elapsed += 100) {
      await vi.advanceTimersByTimeAsync(100);
      if (elapsed < staleBy) continue;
      for (const tab of followers) {
        if (claimsDeadConnection(tab, deadId)) seen.push(`${elapsed} ms: ${JSON.stringify(tab.getState())}`);
      }
    }
    expect(seen).toEqual([]);
    expect(followers.filter((tab) => tab.getState().isLeader)).toHaveLength(1);
    // The docs' state machine: a connection not (yet) welcomed is `connecting`.
    for (const tab of followers) expect(tab.getState().status).toBe('connecting');
  });

  it('storage lease: a follower that judged the lease stale shows `connecting` before anyone took over', async () => {
    const { followers, deadId } = await crashTheLeader('storage');
    const shown = followers.map((tab) => {
      const seen: string[] = [];
      tab.on('statechange', (state) => {
        const role = state.isLeader ? 'leader' : 'follower';
        const id = state.connectionId === deadId ? 'the dead id' : 'another id or none';
        const now = `${role} ${state.status}, ${id}`;
        if (seen.at(-1) !== now) seen.push(now);
      });
      return seen;
    });
    await vi.advanceTimersByTimeAsync(10_000);
    // Every follower dropped the dead connection while still a follower:
    // whether it then lost or won the claim, it never showed it again.
    for (const seen of shown) {
      while (seen[0] === 'follower connected, the dead id') seen.shift();
      expect(seen[0]).toBe('follower connecting, another id or none');
      expect(seen.filter((now) => now.endsWith('the dead id'))).toEqual([]);
    }
  });

  it('Web Locks: at once, in the new leader and in the other follower', async () => {
    const { followers, deadId } = await crashTheLeader('locks');
    const seen: string[] = [];
    for (const tab of followers) {
      tab.on('statechange', (state) => {
        if (state.connectionId === deadId) seen.push(JSON.stringify(state));
      });
    }
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seen).toEqual([]);
    expect(followers.filter((tab) => tab.getState().isLeader)).toHaveLength(1);
    for (const tab of followers) {
      expect(claimsDeadConnection(tab, deadId)).toBe(false);
      expect(tab.getState().status).toBe('connecting');
    }
  });
});
