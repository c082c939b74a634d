import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';

// Browsers throttle the timers of hidden tabs: Chrome runs them at most once
// a second, aligned to whole seconds, and after 5 minutes hidden ("intensive
// throttling") once a minute. Every tick of a follower in such a tab then
// comes later than `2 × takeoverMs / 3`, which the storage lease took for a
// freeze (sleep) and so restarted its observation window on EVERY tick: a
// dead leader (a crashed or discarded tab, which says no goodbye and leaves
// its lease) was never replaced while the other tabs stayed hidden.

const NAME = 'tabwire:v1:app:org:user:leader';

/** One tab's view of a shared FakeClock: while `hidden`, timers fire at the next multiple of `alignMs`. */
class ThrottledClock implements Clock {
  dead = false;
  /** Timers falling due before this run only then (a frozen tab, a sleeping machine). */
  frozenUntil = 0;
  constructor(
    readonly base: FakeClock,
    readonly alignMs: number,
  ) {}

  now(): number {
    return this.base.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const now = this.base.now();
    const due = Math.ceil((now + ms) / this.alignMs) * this.alignMs;
    const handle = { inner: undefined as unknown };
    const fire = (): void => {
      if (this.dead) return;
      const wait = this.frozenUntil - this.base.now();
      if (wait > 0) handle.inner = this.base.setTimeout(fire, wait);
      else fn();
    };
    handle.inner = this.base.setTimeout(fire, due - now);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.base.clearTimeout((handle as { inner: unknown }).inner);
  }
}

async function settle(): Promise<void> {
  await vi.dynamicImportSettled();
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setUp(takeoverMs: number, alignMs: number) {
  const base = new FakeClock();
  const data = new Map<string, string>();
  const elections = new Map<string, LeaderElection>();
  const clocks = new Map<string, ThrottledClock>();
  for (const id of ['t1', 't2', 't3']) {
    const clock = new ThrottledClock(base, alignMs);
    clocks.set(id, clock);
    elections.set(
      id,
      new LeaderElection({
        name: NAME,
        tabId: id,
        strategy: 'storage',
        takeoverMs,
        clock,
        storage: new MemoryStorage({ data }),
        // The channel's leader announcements; a dead tab sends none.
        beat: () => {
          for (const [other, election] of elections) if (other !== id) election.heardLeader(id);
        },
      }),
    );
  }
  const leaders = () => [...elections].filter(([, e]) => e.isLeader).map(([id]) => id);
  return { base, elections, clocks, leaders };
}

describe('storage lease: followers in hidden (throttled) tabs', () => {
  it.each([
    // [what, takeoverMs, timer alignment, budget after the leader died]
    ['1 s throttling, takeoverMs 1000', 1000, 1000, 5000],
    ['intensive throttling (1 min), default takeoverMs 3000', 3000, 60_000, 4 * 60_000],
  ])('replace a dead leader (%s)', async (_what, takeoverMs, alignMs, budgetMs) => {
    const { base, elections, clocks, leaders } = setUp(takeoverMs, alignMs);
    for (const election of elections.values()) election.start();
    await settle();
    base.advance(10 * alignMs);
    expect(leaders()).toHaveLength(1);
    const [dead] = leaders();
    if (dead === undefined) throw new Error('setup');
    // The leader's tab is discarded: no timers, no goodbye, its lease stays.
    clocks.get(dead)!.dead = true;
    elections.delete(dead);
    for (let elapsed = 0; elapsed < budgetMs && leaders().length === 0; elapsed += 100) {
      base.advance(100);
      expect(leaders().length).toBeLessThanOrEqual(1);
    }
    expect(leaders()).toHaveLength(1);
  });

  it('still elect one leader and keep it while every tab is throttled', async () => {
    const { base, elections, leaders } = setUp(1000, 1000);
    for (const election of elections.values()) election.start();
    await settle();
    base.advance(2000);
    const [leader] = leaders();
    const won = () => [...elections.values()].reduce((sum, e) => sum + e.electionsWon, 0);
    for (let elapsed = 0; elapsed < 60_000; elapsed += 100) {
      base.advance(100);
      expect(leaders()).toEqual([leader]);
    }
    expect(won()).toBe(1);
  });

  it('a throttled follower still does not steal from a live leader after the machine slept', async () => {
    const { base, elections, clocks, leaders } = setUp(1000, 1000);
    for (const election of elections.values()) election.start();
    await settle();
    base.advance(10_000);
    const [leader] = leaders();
    if (leader === undefined) throw new Error('setup');
    // Every tab sleeps for a minute; the followers wake first.
    const wake = base.now() + 60_000;
    for (const [id, clock] of clocks) clock.frozenUntil = id === leader ? wake + 10 : wake;
    base.advance(60_000 + 5_000);
    expect(leaders()).toEqual([leader]);
    expect([...elections.values()].reduce((sum, e) => sum + e.electionsWon, 0)).toBe(1);
  });
});
