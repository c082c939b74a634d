import { describe, expect, it, vi } from 'vitest';
import { record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A tab that subscribes (new, back from idle) says `hello`, and the leader
// answers it with its cursor (with the epochs of its services), its flags
// and its state. A hello that comes while no tab leads (the leader crashed,
// and the lease has not gone stale yet; under Web Locks, between a lock's
// release and the next grant) was answered by nobody, and the tab
// that won next never answered it either. Back from idle through a reset to
// a new epoch, the tab kept its old epoch's cursor: the new epoch's events
// were dropped as duplicates. And it never heard the flags the other tabs
// had (a kill switch thrown with setFlags before it joined), so once it led
// it connected with them off.

const browser = fakeBrowserEach();
const options = { leader: { strategy: 'storage' }, platform: { locks: undefined } } as const;

/** A leader `a` and followers `b` and `c` (storage lease), all connected. */
async function threeTabs() {
  const a = browser().tab(options);
  record(a);
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(1_000);
  const b = browser().tab(options);
  const c = browser().tab(options);
  const cSeqs = record(c);
  await vi.advanceTimersByTimeAsync(1_000);
  expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
  expect(c.getState()).toMatchObject({ isLeader: false, status: 'connected' });
  return { a, b, c, cSeqs };
}

describe('a hello said while no tab leads', () => {
  it('is answered by the tab that wins next: a tab back from idle takes the new epoch', async () => {
    const { backend } = browser();
    const { a, b, c, cSeqs } = await threeTabs();
    const off = b.subscribe('tasks', () => {});
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    off();
    await settle();
    expect(b.getState()).toMatchObject({ status: 'idle', cursor: { tasks: 5 } });

    // A new epoch whose seqs start over, while b is idle: a and c apply it.
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    await settle();
    expect(c.getState().cursor).toEqual({ tasks: 0 });

    // The leader crashes; b comes back before the lease goes stale (late
    // enough that c, which saw the lease last change before, claims first).
    browser().crash(a);
    await vi.advanceTimersByTimeAsync(1_100);
    const bSeqs = record(b);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    // c's connection, from the new epoch's 0, gets the new epoch's events
    // (the memory backend replays its log from there).
    await settle();
    expect(cSeqs).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    // Was []: b's old epoch's cursor (5) took them for duplicates.
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('is answered with the flags: a kill switch holds in the tab that joined then', async () => {
    const { backend } = browser();
    const { a, c } = await threeTabs();
    c.setFlags({ emergencyDisable: true });
    await settle();
    expect(c.getState().status).toBe('disabled');

    browser().crash(a);
    await vi.advanceTimersByTimeAsync(1_100);
    const d = browser().tab(options);
    record(d);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(c.getState().isLeader).toBe(true);
    expect(d.getState().flags.emergencyDisable).toBe(true);

    // c goes: d leads, and the switch c threw still holds there.
    await c.close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(d.getState().isLeader).toBe(true);
    expect(d.getState().status).toBe('disabled');
    expect(backend.connectionCount).toBe(0);
  });

  it('is answered under Web Locks too: a hello said as the leader let go of the lock', async () => {
    const { backend } = browser();
    const a = browser().tab();
    record(a);
    await settle();
    const b = browser().tab();
    const c = browser().tab();
    const cSeqs = record(c);
    const off = b.subscribe('tasks', () => {});
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    off();
    await settle();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    await settle();

    // b's hello reaches c before the lock a frees does.
    void a.close();
    const bSeqs = record(b);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(cSeqs).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    // Was []: as under the lease.
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);
  });
});
