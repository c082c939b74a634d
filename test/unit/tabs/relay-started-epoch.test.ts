import { describe, expect, it, vi } from 'vitest';
import { record, recordResyncs, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Found by the delivery model. A tab that joins after a reset starts a
// service at the first batch the leader relays to it, before the leader's
// answer to its hello: its cursor is of the leader's epoch, but it knows no
// id of that epoch, and the answer's id read as a reset it missed. It moved
// back to the leader's cursor, which lags where the leader left the service,
// fired `resync`, and got the events again once it led and connected from there.

const browser = fakeBrowserEach();

/**
 * Tab `a` leads, subscribed to `service` (and to tasks, `alsoTasks`), and
 * the server resets `service`. `offA` is for the test to call, in the task
 * that opens the next tab: `a` leaving it keeps its cursor of it at 0.
 */
async function leaderPastReset(service: string, alsoTasks = false) {
  const { backend } = browser();
  const a = browser().tab();
  const offA = a.subscribe(service, () => {});
  if (alsoTasks) a.subscribe('tasks', () => {});
  await settle();
  backend.reset([service]);
  await settle();
  return { backend, a, offA };
}

describe('a tab that joined after a reset', () => {
  it('takes a service a relayed batch started as of the leader epoch', async () => {
    // Out of notes, its cursor of them stays 0; it still leads until its idle grace ends.
    const { backend, offA } = await leaderPastReset('notes');
    offA();
    const b = browser().tab();
    b.subscribe('tasks', () => {});
    const resyncs = recordResyncs(b);
    backend.publish({ service: 'notes' });
    const seqs = record(b, 'notes');
    // a goes idle: b leads and connects from its own cursor.
    await vi.advanceTimersByTimeAsync(3_000);
    expect(b.getState().isLeader).toBe(true);
    backend.publish({ service: 'notes' });
    await settle();
    // Was [1, 1, 2], after a `missed_reset` resync.
    expect(seqs).toEqual([1, 2]);
    expect(resyncs).toEqual([]);
  });

  it('also after a batch of another service reached its handlers first', async () => {
    // Then the tab's cursor is no longer the leader's to replace (see
    // #adoptLeaderCursor), and the next batch starts notes all the same.
    const { backend, a, offA } = await leaderPastReset('notes', true);
    offA();
    const b = browser().tab();
    const tasks = record(b);
    const resyncs = recordResyncs(b);
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'notes' });
    const seqs = record(b, 'notes');
    await settle();
    expect(tasks).toEqual([1]);
    // a leaves: b leads and connects from its own cursor.
    await a.close();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(b.getState().isLeader).toBe(true);
    backend.publish({ service: 'notes' });
    await settle();
    expect(seqs).toEqual([1, 2]);
    expect(resyncs).toEqual([]);
  });

  it('also for a service named like a member of Object.prototype', async () => {
    // `toString` is a valid service name; the tab's cursor is a plain object,
    // whose inherited `toString` was taken for a cursor of that service.
    const { backend, offA } = await leaderPastReset('toString');
    offA();
    const b = browser().tab();
    b.subscribe('tasks', () => {});
    const resyncs = recordResyncs(b);
    backend.publish({ service: 'toString' });
    const seqs = record(b, 'toString');
    await vi.advanceTimersByTimeAsync(3_000);
    expect(b.getState().isLeader).toBe(true);
    backend.publish({ service: 'toString' });
    await settle();
    // Was [1, 1, 2], after a `missed_reset` resync.
    expect(seqs).toEqual([1, 2]);
    expect(resyncs).toEqual([]);
  });

  it('also when realtime went off before the answer came', async () => {
    // Found by the delivery model (seed 6001). Going off cleared what the
    // relay started (an off tab applies no frame, a reset maybe), though the
    // tab had dropped none: the answer that came then, or the sync's once
    // back on, read as a reset it missed, moved it back and replayed.
    const { backend } = browser();
    const a = browser().tab();
    const offA = a.subscribe('notes', () => {});
    await settle();
    backend.reset(['notes']);
    offA();
    const b = browser().tab();
    const seqs = record(b, 'notes');
    const resyncs = recordResyncs(b);
    backend.publish({ service: 'notes' });
    // Thrown before a heard b's hello: b hears the switch first, then the answer.
    a.setFlags({ emergencyDisable: true });
    await settle();
    expect(b.getState()).toMatchObject({ status: 'disabled', cursor: { notes: 1 } });
    // Lifted in b: a, with no subscriber left, is out of the channel, its switch its own.
    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(3_000);
    backend.publish({ service: 'notes' });
    await settle();
    // Was [1, 1, 2], after a `missed_reset` resync.
    expect(seqs).toEqual([1, 2]);
    expect(resyncs).toEqual([]);
  });

  it('also when it was off from the start and dropped more batches before the answer', async () => {
    // Off (its own kill switch), it forgot what the relay started at the
    // next frame it dropped, a batch: the answer then read as a reset missed,
    // a `missed_reset` resync with no reset anywhere.
    const { backend, offA } = await leaderPastReset('notes', true);
    offA();
    const b = browser().tab({ flags: { emergencyDisable: true } });
    const seqs = record(b, 'notes');
    const resyncs = recordResyncs(b);
    // Both relayed to b before a answers its hello.
    backend.publish({ service: 'notes' });
    backend.publish({ service: 'notes' });
    await settle();
    expect(resyncs).toEqual([]);
    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(3_000);
    backend.publish({ service: 'notes' });
    await settle();
    // The hole, replayed once back on.
    expect(seqs).toEqual([1, 2, 3]);
    expect(resyncs).toEqual([]);
  });

  it('but not past a reset it dropped while off', async () => {
    // The reset moved the leader's epoch and not b's: the answer tells it.
    const { backend, offA } = await leaderPastReset('notes', true);
    offA();
    const b = browser().tab({ flags: { emergencyDisable: true } });
    record(b, 'notes');
    const resyncs = recordResyncs(b);
    backend.publish({ service: 'notes' });
    backend.reset(['notes']);
    await settle();
    expect(resyncs).toEqual([{ services: ['notes'], reason: 'missed_reset' }]);
  });
});
