import { describe, expect, it, vi } from 'vitest';
import { type LeaderChange, LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';
import { fullStorage } from './denied-platform';

// Storage whose writes throw (the origin's quota is full) with a lease left in
// it by a leader that crashed before: nobody can overwrite or renew it. The
// tabs judge by beats then (see lease-join-writes-fail.test.ts), and a tab
// leads once that lease was unchanged for takeoverMs. But "a leader that ever
// reads someone else's lease steps down" took the dead tab's lease, which it
// had itself judged stale, for a live one: the leader stepped down at its next
// tick, led again takeoverMs later, and so on for good (a reconnect at the
// server every few seconds, with a lone tab too). Its followers named, in
// turn, the leader whose beats they heard and the dead holder of the lease.

const NAME = 'tabwire:v1:app:org:user:leader';
const TAKEOVER = 3000;

async function settle(): Promise<void> {
  await vi.dynamicImportSettled();
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('storage lease: a dead tab’s lease left in storage nobody can write', () => {
  it('the tab leading in its place keeps leading, and its followers name it', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStorage();
    // Written before the origin's quota filled up; its tab has crashed since.
    shared.setItem(`${NAME}:lease`, JSON.stringify({ tabId: 'dead', nonce: 'n', v: 1 }));
    const full = fullStorage(shared);
    const elections = new Map<string, LeaderElection>();
    const changes = new Map<string, LeaderChange[]>();
    const tab = (id: string) => {
      const seen: LeaderChange[] = [];
      changes.set(id, seen);
      const election = new LeaderElection({
        name: NAME,
        tabId: id,
        strategy: 'storage',
        takeoverMs: TAKEOVER,
        clock,
        storage: full,
        beat: () => {
          for (const [other, peer] of elections) if (other !== id) peer.heardLeader(id);
        },
        onChange: (change) => seen.push(change),
      });
      elections.set(id, election);
      election.start();
      return election;
    };

    tab('m');
    await settle();
    clock.advance(TAKEOVER * 3);
    expect(elections.get('m')?.isLeader).toBe(true);
    // A lone tab keeps leading (was: a step-down and a new term every 3 s).
    clock.advance(TAKEOVER * 10);
    expect(changes.get('m')).toEqual([
      { isLeader: false, leaderTabId: 'dead' },
      { isLeader: true, leaderTabId: 'm' },
    ]);
    expect(elections.get('m')?.electionsWon).toBe(1);
    tab('z');
    await settle();
    clock.advance(TAKEOVER * 3);
    const follower = changes.get('z') ?? [];
    follower.length = 0;
    clock.advance(TAKEOVER * 10);
    // The leader's beats named `m`, the follower's ticks the dead holder of
    // the unchanged lease: a change every second, each showing the tab's
    // connection as gone (`connecting`) until the next.
    expect(follower).toEqual([]);
    expect(elections.get('z')?.electionsWon).toBe(0);
    expect(elections.get('m')?.electionsWon).toBe(1);
    expect(elections.get('z')?.isLeader).toBe(false);
  });
});
