import { describe, expect, it, vi } from 'vitest';
import { page, record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Found by the delivery model, after the fix of bfcache-filter-hole.test.ts.
// A follower back from the back/forward cache asked for a replay when its
// cursor was behind the leader's, or when the other tabs' property filters
// left its own out at that moment. While it was away they may have left it
// out and widened again since: the server sent nothing of its property
// meanwhile, the cursors were level, and its events were lost for good.

const browser = fakeBrowserEach();

describe('a follower back from the back/forward cache', () => {
  it('gets the events the union left out while it was away, though the union covers it again', async () => {
    const { backend } = browser();
    const a = browser().tab();
    a.setPropertyFilter('p1');
    record(a);
    await settle();
    const b = browser().tab();
    const bSeqs = record(b);
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await settle();
    a.setPropertyFilter(null);
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
