import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';

// Storage whose writes throw (the origin's quota filled up) while a live
// leader's lease is in the key: nobody can renew or overwrite it. The leader
// is frozen for a while (a hidden tab's timers throttled to once a minute, a
// frozen page): no beats, so a follower rightly takes over. The follower
// judged that lease stale, and since lease-stale-beside-beats it ignores the
// stale text for good. When the frozen leader wakes and beats again, each of
// the two leaders hears the other: the one named in the key keeps leading
// (the key names it), and the other, ignoring the key, kept leading too
// whenever its id was the smaller. Two leaders, two connections, for good.

const NAME = 'tabwire:v1:app:org:user:leader';
const TAKEOVER = 3000;

/** One tab's view of a shared FakeClock whose timers wait while the tab is frozen. */
class FreezableClock implements Clock {
  frozenUntil = 0;
  constructor(readonly base: FakeClock) {}
  now(): number {
    return this.base.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = { inner: undefined as unknown };
    const fire = (): void => {
      const wait = this.frozenUntil - this.base.now();
      if (wait > 0) handle.inner = this.base.setTimeout(fire, wait);
      else fn();
    };
    handle.inner = this.base.setTimeout(fire, ms);
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

describe('storage lease: a live leader’s lease that nobody can write, its tab frozen a while', () => {
  it.each([
    ['the replacement has the smaller id', 'x', 'b'],
    ['the replacement has the larger id', 'b', 'x'],
  ])('leaves one leader once the frozen one beats again (%s)', async (_, first, second) => {
    const base = new FakeClock();
    const shared = new MemoryStorage();
    let full = false;
    const storage = {
      getItem: (key: string) => shared.getItem(key),
      setItem: (key: string, value: string) => {
        if (full) throw new DOMException('full', 'QuotaExceededError');
        shared.setItem(key, value);
      },
      removeItem: (key: string) => shared.removeItem(key),
    };
    const elections = new Map<string, LeaderElection>();
    const clocks = new Map<string, FreezableClock>();
    const tab = (id: string) => {
      const clock = new FreezableClock(base);
      clocks.set(id, clock);
      const election = new LeaderElection({
        name: NAME,
        tabId: id,
        strategy: 'storage',
        takeoverMs: TAKEOVER,
        clock,
        storage,
        beat: () => {
          // A frozen tab hears nothing either.
          for (const [other, peer] of elections)
            if (other !== id && clocks.get(other)!.frozenUntil <= base.now()) peer.heardLeader(id);
        },
      });
      elections.set(id, election);
      election.start();
      return election;
    };
    const leaders = () => [...elections].filter(([, e]) => e.isLeader).map(([id]) => id);

    tab(first);
    await settle();
    base.advance(100);
    expect(leaders()).toEqual([first]);
    tab(second);
    await settle();
    base.advance(TAKEOVER);
    expect(leaders()).toEqual([first]);

    // The quota fills up: the leader's last lease stays in the key. Then its
    // tab is frozen for 3 × takeoverMs; the other takes over, rightly.
    full = true;
    clocks.get(first)!.frozenUntil = base.now() + 3 * TAKEOVER;
    base.advance(3 * TAKEOVER - 100);
    expect(elections.get(second)!.electionsWon).toBeGreaterThan(0);

    // Thawed: within two takeoverMs, one leader again, and it stays so.
    base.advance(2 * TAKEOVER);
    for (let elapsed = 0; elapsed < 5 * TAKEOVER; elapsed += 100) {
      base.advance(100);
      expect(leaders()).toHaveLength(1);
    }
    for (const election of elections.values()) await election.stop();
  });
});
