import { describe, expect, it, vi } from 'vitest';
import { LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';

// A tab whose lease writes throw judges an empty key by the leader's beats
// alone: nobody can fill the key, so its being empty proves nothing. The
// single old LeaderElection remembered that across stop() and start(); the
// lease is now a new object per run (loaded with import()), and a tab that
// joined again forgot it and took an empty key for "nobody leads" — leading
// at once beside a live leader.

const NAME = 'tabwire:v1:app:org:user:leader';
const KEY = `${NAME}:lease`;
const TAKEOVER = 3000;

async function settle(): Promise<void> {
  await vi.dynamicImportSettled();
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('storage lease: a tab whose writes throw, joining again', () => {
  it('does not take an empty key for a vacancy while a leader beats', async () => {
    const clock = new FakeClock();
    const data = new Map<string, string>();
    const shared = new MemoryStorage({ data });
    /** Storage whose writes throw while `full()` says so. */
    const refusing = (full: () => boolean) => ({
      getItem: (key: string) => shared.getItem(key),
      setItem: (key: string, value: string) => {
        if (full()) throw new DOMException('full', 'QuotaExceededError');
        shared.setItem(key, value);
      },
      removeItem: (key: string) => shared.removeItem(key),
    });
    let originFull = false;
    const elections: Record<string, LeaderElection> = {};
    const beat = (from: string) => () => {
      for (const [id, election] of Object.entries(elections)) if (id !== from) election.heardLeader(from);
    };
    const options = { name: NAME, strategy: 'storage' as const, takeoverMs: TAKEOVER, clock };
    const t1Storage = refusing(() => originFull);
    const t2Storage = refusing(() => true);
    elections.t1 = new LeaderElection({ ...options, tabId: 't1', storage: t1Storage, beat: beat('t1') });
    elections.t2 = new LeaderElection({ ...options, tabId: 't2', storage: t2Storage, beat: beat('t2') });
    const t1 = elections.t1;
    const t2 = elections.t2;

    // t2 alone: its claim cannot be written, and nobody else is heard for takeoverMs: it leads.
    t2.start();
    await settle();
    expect(t2.isLeader).toBe(false);
    clock.advance(TAKEOVER);
    expect(t2.isLeader).toBe(true);
    await t2.stop();

    // t1 leads with a lease t2 can read; t2 joins again and follows it.
    t1.start();
    await settle();
    clock.advance(100);
    expect(t1.isLeader).toBe(true);
    t2.start();
    await settle();
    expect(t2.isLeader).toBe(false);

    // Now no tab can write (the origin's quota filled up), and the key is
    // emptied (another script's clear(), say): the leader lives on, beating.
    originFull = true;
    data.delete(KEY);
    for (let elapsed = 0; elapsed < 2 * TAKEOVER; elapsed += 50) {
      clock.advance(50);
      expect([t1.isLeader, t2.isLeader]).toEqual([true, false]);
    }
    await t1.stop();
    await t2.stop();
  });
});
