import { describe, expect, it, vi } from 'vitest';
import { record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Found by the delivery model, with the storage lease. Two tabs subscribe
// at once: neither's hello finds a leader to answer it, and the follower's
// cursor is the one the leader's relayed welcome gave it. An event is
// published while the connection is down; a new tab opens as the leader
// closes (its hello unanswered too) and wins the lease. Its connection,
// with no cursor of its own, starts at the head, past that event. The
// follower, still taking the leader's cursor for its own as a new tab does
// (no event had reached its handler yet), skipped to it: its handler,
// subscribed and at the welcome's cursor before the event, never got it.

const browser = fakeBrowserEach();
const options = { leader: { strategy: 'storage' }, platform: { locks: undefined } } as const;

describe('a new tab that takes over without a cursor', () => {
  it('has the follower that was at the last welcome get what it missed', async () => {
    const { backend } = browser();
    const leader = browser().tab(options);
    const follower = browser().tab(options);
    record(leader);
    const seqs = record(follower);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(follower.getState()).toMatchObject({ isLeader: false, status: 'connected', cursor: { tasks: 0 } });

    // The connection down and not back yet: nobody hears this event.
    backend.drop();
    backend.failNextConnects(1);
    const late = browser().tab(options);
    record(late);
    backend.publish({ service: 'tasks' });
    await leader.close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(late.getState().isLeader).toBe(true);

    backend.publish({ service: 'tasks' });
    await settle();
    expect(seqs).toEqual([1, 2]);
  });
});
