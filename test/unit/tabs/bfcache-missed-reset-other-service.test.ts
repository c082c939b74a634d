import { describe, expect, it, vi } from 'vitest';
import { page, record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A follower back from the back/forward cache asks a replay from its cursor,
// as the union may have left its property out while it was away
// (bfcache-filter-hole.test.ts). It asked none where the leader's answer
// also told it of a reset it missed, of any service: the resync covers only
// the services reset, so the events of its property that the narrowed union
// left out of another service were lost for good, with no gap and no
// resync. Found by the delivery model (seed 11030).

const browser = fakeBrowserEach();

describe('a follower back from the back/forward cache that missed a reset of another service', () => {
  it('still gets the events of its property the narrowed union left out', async () => {
    const { backend } = browser();
    const a = browser().tab();
    record(a, 'finance');
    record(a);
    const b = browser().tab();
    const bSeqs = record(b);
    await settle();
    a.setPropertyFilter('p1');
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    expect(b.getState().cursor).toHaveProperty('finance');

    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.reset(['finance']);
    await settle();
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await settle();
    browser().windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    expect(bSeqs).toEqual([1]);
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await settle();
    expect(bSeqs).toEqual([1, 2]);
  });
});
