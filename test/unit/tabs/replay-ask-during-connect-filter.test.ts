import { describe, expect, it, vi } from 'vitest';
import { page, record, slowConnects } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Found by the delivery model (seed 12345). A follower back from the
// back/forward cache asks the leader for a replay from its cursor, as the
// other tabs' filters may have left its property out (bfcache-filter-hole.test.ts). When that
// ask reached a leader whose connection was still being opened, opened
// before the follower's needs came, the welcome took the ask as done: the
// connection's cursor reached back to it. But that connection was of the
// other tabs' filters alone, so the server replayed nothing of the
// follower's property; the update that widened the filter then replays
// nothing either, and those events were lost for good, with no gap and no
// resync.

const browser = fakeBrowserEach();

describe('a replay a follower asks for while the leader connects', () => {
  it('brings the events of its property that the connection being opened filters out', async () => {
    const { backend } = browser();
    const a = browser().tab();
    a.setPropertyFilter('p1');
    const aSeqs = record(a);
    await vi.advanceTimersByTimeAsync(50);
    const b = browser().tab();
    const bSeqs = record(b);
    await vi.advanceTimersByTimeAsync(50);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await vi.advanceTimersByTimeAsync(50);
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await vi.advanceTimersByTimeAsync(50);
    // The leader reconnects, of its own filter only; b comes back while the
    // connect is on its way, so its needs and its ask come before the welcome.
    let back = false;
    slowConnects(browser().backend, 200, () => {
      if (back) return;
      back = true;
      browser().windowOf(b).dispatchEvent(page('pageshow'));
    });
    backend.drop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(back).toBe(true);
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    expect(bSeqs).toEqual([1]);
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(bSeqs).toEqual([1, 2]);
    expect(aSeqs).toEqual([]);
  });
});
