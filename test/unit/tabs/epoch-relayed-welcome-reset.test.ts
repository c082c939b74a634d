import { describe, expect, it } from 'vitest';
import { page, record, recordResyncs, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A follower whose service a relayed welcome started, and which left (the
// back/forward cache) before the reset the server sent right after that
// welcome was relayed to it, must get the reset as a `missed_reset` resync.
// Found by the review of wip/ordered-epoch-names: it noted when a welcome
// started a service and took any reset its leader named no later for one
// before it. The leader names a reset when it reads it, the follower times
// the welcome when it reads the relay, later (a channel hop, a busy page):
// a reset that came right after the welcome (the server's answer to a cursor
// it cannot replay) read as older, and the tab never resynced. No clock step.

const browser = fakeBrowserEach();

describe('a reset right after the relayed welcome that started a service', () => {
  it('resyncs the follower that left between the two', async () => {
    const { backend } = browser();
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    const a = browser().tab();
    a.subscribe('notes', () => {});
    const b = browser().tab();
    record(b, 'tasks');
    const resyncs = recordResyncs(b);
    // b leaves as soon as it has read the welcome's relay, and the server's
    // reset comes in the same millisecond, to a alone.
    let left = false;
    const proto = browser().channels.BroadcastChannel.prototype as unknown as EventTarget;
    const dispatch = proto.dispatchEvent;
    proto.dispatchEvent = function (this: EventTarget, event: Event) {
      const handled = dispatch.call(this, event);
      // After the channel's onmessage too, and before the next message.
      queueMicrotask(() => {
        if (left || b.getState().cursor.tasks === undefined) return;
        left = true;
        browser().windowOf(b).dispatchEvent(page('pagehide'));
        backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
      });
      return handled;
    };
    await settle();
    expect(left).toBe(true);
    expect(a.getState().isLeader).toBe(true);
    browser().windowOf(b).dispatchEvent(page('pageshow'));
    await settle();
    // None there: b kept the old epoch's cursor (3), and its app never
    // re-fetched what the reset skipped.
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
  });
});
