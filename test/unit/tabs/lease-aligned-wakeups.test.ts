import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';

// Chrome's intensive throttling (a page hidden for 5 minutes) runs chained
// timers once a minute, ALIGNED to whole minutes: every hidden tab of the
// browser wakes at the same instant, and which one runs first (other
// processes, localStorage writes still propagating) varies from one minute
// to the next. A follower whose tick runs just before the leader's renewal
// in one minute and just after it the minute before sees the lease
// "unchanged" for a whole minute (≥ takeoverMs) and claims it from a live
// leader, which then steps down: leadership moved, and the browser had no
// connection until the claim was read back a minute later; the next flip of
// the order moves it back. With every tab hidden, realtime came and went
// every minute or two for as long as they stayed hidden.

const NAME = 'tabwire:v1:app:org:user:leader';
const MINUTE = 60_000;

/**
 * A hidden tab's timers: each fires at the next whole minute, plus a few ms
 * that depend on the tab and the minute, so the tabs' order at each wake-up
 * alternates.
 */
class AlignedClock implements Clock {
  constructor(
    readonly base: FakeClock,
    readonly index: number,
    /** The ms after the minute this tab wakes at; default: alternating. */
    readonly jitterOf: (boundary: number, index: number) => number = (boundary, index) =>
      ((boundary + index) % 2) * 5,
  ) {}

  /** A discarded tab: no timer runs any more, and its lease stays behind. */
  dead = false;

  now(): number {
    return this.base.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const now = this.base.now();
    const boundary = Math.ceil((now + ms) / MINUTE);
    const jitter = this.jitterOf(boundary, this.index);
    return this.base.setTimeout(
      () => {
        if (!this.dead) fn();
      },
      boundary * MINUTE + jitter - now,
    );
  }

  clearTimeout(handle: unknown): void {
    this.base.clearTimeout(handle);
  }
}

async function settle(): Promise<void> {
  await vi.dynamicImportSettled();
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('storage lease: every tab hidden, timers aligned to the minute', () => {
  /** A seeded pseudo-random order (a fixed LCG): ms 0..19 after the minute. */
  const randomJitter = (boundary: number, index: number): number => {
    let x = (boundary * 7919 + index * 104_729 + 12_345) >>> 0;
    for (let i = 0; i < 3; i++) x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x % 20;
  };

  it.each([
    ['two tabs, the order alternating', ['t1', 't2'], undefined],
    ['three tabs, the order random', ['t1', 't2', 't3'], randomJitter],
  ])('keeps one leader while the order of the wake-ups varies (%s)', async (_what, ids, jitterOf) => {
    const base = new FakeClock();
    const data = new Map<string, string>();
    const elections = new Map<string, LeaderElection>();
    const clocks = new Map<string, AlignedClock>();
    ids.forEach((id, index) => {
      clocks.set(id, new AlignedClock(base, index, jitterOf));
      elections.set(
        id,
        new LeaderElection({
          name: NAME,
          tabId: id,
          strategy: 'storage',
          takeoverMs: 3000, // the default
          clock: clocks.get(id)!,
          storage: new MemoryStorage({ data }),
          beat: () => {
            for (const [other, election] of elections) if (other !== id) election.heardLeader(id);
          },
        }),
      );
    });
    const leaders = () => [...elections].filter(([, e]) => e.isLeader).map(([id]) => id);
    const won = () => [...elections.values()].reduce((sum, e) => sum + e.electionsWon, 0);

    for (const election of elections.values()) election.start();
    await settle();
    base.advance(3 * MINUTE);
    expect(leaders()).toHaveLength(1);
    const [leader] = leaders();
    expect(won()).toBe(1);

    let leaderless = 0;
    for (let elapsed = 0; elapsed < 30 * MINUTE; elapsed += 1000) {
      base.advance(1000);
      expect(leaders().length).toBeLessThanOrEqual(1);
      if (leaders().length === 0) leaderless += 1000;
    }
    expect(leaderless).toBe(0);
    expect(leaders()).toEqual([leader]);
    expect(won()).toBe(1);

    // Still replaced when it dies (discarded: no goodbye, its lease left), within minutes.
    clocks.get(leader!)!.dead = true;
    elections.delete(leader!);
    for (let elapsed = 0; elapsed < 4 * MINUTE && leaders().length === 0; elapsed += 1000) base.advance(1000);
    expect(leaders()).toHaveLength(1);
  });
});
