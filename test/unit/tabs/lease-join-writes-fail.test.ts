import { describe, expect, it, vi } from 'vitest';
import { LeaderElection } from '../../../src/tabs/leader-election';
import { MemoryStorage } from '../../../src/testing';
import { FakeClock } from '../connection/fake-clock';
import { fullStorage } from './denied-platform';

// Storage whose writes throw (the origin's quota is full; old Safari private
// mode): nobody can write a lease, so the key stays empty and the tabs judge
// by the leader's beats alone. The docs (LeaderElection, StorageLease's
// constructor) say such a tab "leads only if nobody else can be seen — no
// leader heard for takeoverMs", and that a tab whose first claim cannot be
// written "goes on judging an empty key by peer beats alone, rather than
// leading at once beside a live leader". The code led at once: every tab
// opened beside a live leader became a second leader, and one with a
// smaller id took the connection away from the healthy leader (which hears
// its beat, sees no lease, and yields to the smaller id): a handover, and a
// reconnect at the server, for every tab the user opens.

const NAME = 'tabwire:v1:app:org:user:leader';
const TAKEOVER = 3000;

async function settle(): Promise<void> {
  await vi.dynamicImportSettled();
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('storage lease with refused writes: a tab opened beside a live leader', () => {
  it('neither leads beside it nor takes leadership from it', async () => {
    const clock = new FakeClock();
    const shared = new MemoryStorage();
    const full = fullStorage(shared);
    const elections = new Map<string, LeaderElection>();
    const tab = (id: string) => {
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
      });
      elections.set(id, election);
      return election;
    };
    const leaders = () => [...elections].filter(([, e]) => e.isLeader).map(([id]) => id);

    // The first tab leads (alone, after hearing nobody).
    const first = tab('m');
    first.start();
    await settle();
    clock.advance(TAKEOVER * 2);
    expect(leaders()).toEqual(['m']);

    // The user opens more tabs, with ids on either side of the leader's.
    for (const id of ['a', 'z', 'b']) {
      tab(id).start();
      await settle();
      expect(leaders()).toEqual(['m']);
      for (let elapsed = 0; elapsed < TAKEOVER * 2; elapsed += 50) {
        clock.advance(50);
        expect(leaders()).toEqual(['m']);
      }
    }
    expect(first.electionsWon).toBe(1);
    for (const [id, election] of elections) if (id !== 'm') expect(election.electionsWon).toBe(0);
  });
});
