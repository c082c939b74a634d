import { describe, expect, it, vi } from 'vitest';
import { epochEvent, page, record, recordResyncs, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A reset a tab missed while in the back/forward cache must reach it as a
// `missed_reset` resync whatever the wall clock did meanwhile. An order of
// resets judged by wall time (the review of wip/ordered-epoch-names) took a
// reset named after the clock was stepped back for one older than this
// tab's epoch: the tab kept its old epoch's cursor and dropped the new
// epoch's first events as duplicates, with no resync. A loss where, without
// an order, the worst is one event again.

const browser = fakeBrowserEach();

/** A batch of the new epoch (seqs started over at 1). */
const newEpoch = (to: number) => ({
  type: 'batch',
  events: Array.from({ length: to }, (_, i) => epochEvent(i + 1)),
  after: { tasks: 0 },
  cursor: { tasks: to },
});

/** The wall clock (and, in the fake browser, every timer's clock) set back 10 s: an NTP step, a user's change. */
const stepClockBack = () => vi.setSystemTime(Date.now() - 10_000);

describe('a reset missed across a wall clock stepped back', () => {
  it('resyncs a tab whose own welcome started the service', async () => {
    const { backend } = browser();
    const c = browser().tab();
    const seqs = record(c, 'tasks');
    const resyncs = recordResyncs(c);
    await vi.advanceTimersByTimeAsync(0);
    expect(c.getState().isLeader).toBe(true);
    const a = browser().tab();
    a.subscribe('tasks', () => {});
    await settle();
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await settle();
    browser().windowOf(c).dispatchEvent(page('pagehide'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState().isLeader).toBe(true);
    stepClockBack();
    // A new epoch, after c's welcome in fact, named at an earlier wall time.
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
    await settle();
    browser().windowOf(c).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
    backend.sendRaw(newEpoch(2));
    await settle();
    // Kept at 3, its cursor dropped the new epoch's 1 and 2 as duplicates.
    expect(seqs).toEqual([1, 2, 3, 1, 2]);
  });

  it('resyncs a follower that applied an earlier reset', async () => {
    const { backend } = browser();
    const a = browser().tab();
    a.subscribe('tasks', () => {});
    await settle();
    const b = browser().tab();
    const seqs = record(b, 'tasks');
    const resyncs = recordResyncs(b);
    await settle();
    // b applies this reset under the name a gives it.
    backend.reset(['tasks']);
    await settle();
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await settle();
    browser().windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    stepClockBack();
    // A later reset, named at an earlier wall time than the one b holds.
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
    await settle();
    browser().windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(resyncs).toEqual([
      { services: ['tasks'], reason: 'test' },
      { services: ['tasks'], reason: 'missed_reset' },
    ]);
    backend.sendRaw(newEpoch(2));
    await settle();
    expect(seqs).toEqual([1, 2, 3, 1, 2]);
  });
});
