import { describe, expect, it, vi } from 'vitest';
import type { RealtimeEvent } from '../../../src';
import type { Clock } from '../../../src/clock';
import { globalTimersClock } from '../../../src/testing/fake-browser';
import { page } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Chrome's intensive throttling (a page hidden for 5 minutes) runs a hidden
// tab's chained timers once a minute, aligned to whole minutes; the tab's
// BroadcastChannel messages still arrive at once. The needs refresh is such
// a chained timer: a hidden tab re-announced its needs once a minute, and
// the other tabs took it for gone after 35 s (PEER_EXPIRY_MS) unheard.
//
// - A hidden follower: the leader dropped its services from the union for
//   the rest of each minute; the server stopped sending them, the follower
//   (still subscribed) got none of their events until it re-announced and the
//   next event of the service showed the hole: a gap, and the leader
//   reconnected to have it replayed (or, past the server's buffer, a reset
//   and a `resync` for nothing). On a quiet service the events stayed missing
//   until the next one.
// - A hidden leader: a visible follower dropped the leader's services from
//   its pipeline, so its cursor of those stood still; back in the union a
//   minute later, the next relayed batch was a gap, and the follower had the
//   leader reconnect for a service it does not even subscribe to.

const MINUTE = 60_000;

/** A tab's timers: on time while visible, at the next whole minute while hidden. */
function tabClock(): Clock & { hidden: boolean } {
  return {
    hidden: false,
    now: () => Date.now(),
    setTimeout(fn, ms) {
      if (!this.hidden) return globalTimersClock.setTimeout(fn, ms);
      const now = Date.now();
      return globalTimersClock.setTimeout(fn, Math.ceil((now + ms) / MINUTE) * MINUTE - now);
    },
    clearTimeout: (handle) => globalTimersClock.clearTimeout(handle),
  };
}

const browser = fakeBrowserEach();

describe('a tab whose timers run once a minute (hidden)', () => {
  it('as a follower, gets every event of its own service at once, with no gap or reconnect', async () => {
    const leader = browser().tab();
    leader.subscribe('chat', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    const clock = tabClock();
    const hidden = browser().tab({ platform: { clock } });
    const got: { seq: number; at: number }[] = [];
    hidden.subscribe('tasks', (events: RealtimeEvent[]) => {
      for (const e of events) got.push({ seq: e.seq, at: Date.now() });
    });
    await vi.advanceTimersByTimeAsync(1_000);
    clock.hidden = true;
    const connects = browser().backend.connectCount;

    // One `tasks` event every 5 s, for 5 minutes.
    const published: { seq: number; at: number }[] = [];
    for (let i = 0; i < 60; i++) {
      await vi.advanceTimersByTimeAsync(5_000);
      published.push({ seq: browser().backend.publish({ service: 'tasks' }).seq, at: Date.now() });
    }
    await vi.advanceTimersByTimeAsync(100);

    const late = published.filter((p) => {
      const delivered = got.find((g) => g.seq === p.seq);
      return !delivered || delivered.at - p.at > 1_000;
    });
    expect(late.map((p) => p.seq)).toEqual([]);
    expect(hidden.getState().counters.gaps).toBe(0);
    expect(browser().backend.connectCount).toBe(connects);
  });

  it('as a follower on a quiet service, is not left without an event published while it was dropped', async () => {
    const leader = browser().tab();
    leader.subscribe('chat', () => {});
    await vi.advanceTimersByTimeAsync(1_000);

    const clock = tabClock();
    const hidden = browser().tab({ platform: { clock } });
    const got: number[] = [];
    hidden.subscribe('tasks', (events: RealtimeEvent[]) => got.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(1_000);
    clock.hidden = true;

    // Quiet for a few minutes, then one event (while the leader has the
    // hidden tab's needs, or, before the fix, while it had dropped them);
    // nothing more for 10 minutes.
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    for (let i = 0; i < 60 && leader.getState().leader.peers === 1; i++) {
      await vi.advanceTimersByTimeAsync(1_000);
    }
    const seq = browser().backend.publish({ service: 'tasks' }).seq;
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(got).toEqual([seq]);
  });

  it('as a follower with a property filter of its own, loses none of its events', async () => {
    // Dropped from the union, the hidden tab's filter went too: the server
    // filtered its property's events out, and a batch's cursor covers the
    // seqs filtered out before it, so no tab ever saw a gap: lost for good.
    const leader = browser().tab();
    leader.setPropertyFilter('p1');
    leader.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);

    const clock = tabClock();
    const hidden = browser().tab({ platform: { clock } });
    hidden.setPropertyFilter('p2');
    const got: number[] = [];
    hidden.subscribe('tasks', (events: RealtimeEvent[]) => got.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(1_000);
    clock.hidden = true;

    const wanted: number[] = [];
    for (let i = 0; i < 60; i++) {
      await vi.advanceTimersByTimeAsync(5_000);
      browser().backend.publish({ service: 'tasks', propertyId: 'p1' });
      wanted.push(browser().backend.publish({ service: 'tasks', propertyId: 'p2' }).seq);
    }
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(got).toEqual(wanted);
  });

  it('as the leader, does not make a visible follower ask a replay of a service it lacks', async () => {
    const clock = tabClock();
    const leader = browser().tab({ platform: { clock } });
    const leaderGot: number[] = [];
    const resyncs: string[][] = [];
    leader.subscribe('finance', (events: RealtimeEvent[]) => leaderGot.push(...events.map((e) => e.seq)));
    leader.on('resync', ({ services }) => resyncs.push(services));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    const visible = browser().tab();
    const tasks: number[] = [];
    visible.subscribe('tasks', (events: RealtimeEvent[]) => tasks.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(1_000);
    clock.hidden = true;
    const connects = browser().backend.connectCount;

    // Both services busy for 5 minutes.
    for (let i = 0; i < 60; i++) {
      await vi.advanceTimersByTimeAsync(5_000);
      browser().backend.publish({ service: 'finance' });
      browser().backend.publish({ service: 'tasks' });
    }
    await vi.advanceTimersByTimeAsync(100);

    expect(tasks).toEqual(
      browser()
        .backend.log('tasks')
        .map((e) => e.seq),
    );
    expect(leaderGot).toEqual(
      browser()
        .backend.log('finance')
        .map((e) => e.seq),
    );
    expect(visible.getState().counters.gaps).toBe(0);
    expect(resyncs).toEqual([]);
    expect(browser().backend.connectCount).toBe(connects);
  });
});

// The same hole without throttling: a service only one tab wants leaves the
// union when that tab goes (into the back/forward cache, here), and comes
// back when it returns. The server's answer to the in-place update starts the
// service at its head, ahead of the cursor every tab kept; the leader seeded
// nothing (a known cursor is never moved) and asked no replay, so what was
// published meanwhile reached the returning tab, whose handlers stayed
// subscribed, only once the service's next event showed the gap: on a quiet
// service, never.
describe('a service that comes back into the union', () => {
  it('is replayed from the kept cursor at once, not at its next event', async () => {
    const leader = browser().tab();
    leader.subscribe('chat', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    const back = browser().tab();
    const got: number[] = [];
    back.subscribe('tasks', (events: RealtimeEvent[]) => got.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1]);

    browser().windowOf(back).dispatchEvent(page('pagehide'));
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.publish({ service: 'tasks' });
    browser().backend.publish({ service: 'tasks' });
    browser().windowOf(back).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(back.getState().isLeader).toBe(false);
    expect(got).toEqual([1, 2, 3]);
  });
});
