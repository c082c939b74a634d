import { describe, expect, it, vi } from 'vitest';
import { page, record, settle, slowConnects } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A replay asked within 10 s of the last one waits for the backoff
// (replay-in-place.test.ts). A follower back from the back/forward cache,
// level with the leader but out of its property filter meanwhile
// (bfcache-filter-hole.test.ts), asks from the leader's own cursor: a live
// batch that came while that replay waited starts there, and was taken for
// the replay asked for, so the reconnect that followed started past the
// events of the follower's property, lost for good.

const browser = fakeBrowserEach();

describe('a follower replay ask that waits for the backoff', () => {
  it('still brings the events of its property when a live batch comes meanwhile', async () => {
    const { backend } = browser();
    const a = browser().tab();
    a.setPropertyFilter('p1');
    record(a);
    await settle();
    const b = browser().tab();
    const bSeqs = record(b);
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    // A gap the leader has replayed moments ago.
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    await settle();
    expect(bSeqs).toEqual([1, 2, 3]);

    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await settle();
    browser().windowOf(b).dispatchEvent(page('pageshow'));
    await settle();
    // The other tab's property is busy while the replay waits.
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);
  });

  // replay-ask-during-connect-filter.test.ts, where the connection being
  // opened is the leader's replay of a gap: the ask its welcome keeps is
  // asked again within 10 s of that replay.
  it('still brings them when it was asked while the replay of a gap connected', async () => {
    const { backend } = browser();
    const a = browser().tab();
    a.setPropertyFilter('p1');
    record(a);
    await settle();
    const b = browser().tab();
    const bSeqs = record(b);
    await settle();
    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await settle();
    let back = false;
    slowConnects(browser().backend, 200, () => {
      if (back) return;
      back = true;
      browser().windowOf(b).dispatchEvent(page('pageshow'));
    });
    // A gap: the leader reconnects to have it replayed, and b comes back meanwhile.
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    await vi.advanceTimersByTimeAsync(250);
    expect(back).toBe(true);
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    expect(bSeqs).toEqual([1, 2, 3, 4]);
  });
});
