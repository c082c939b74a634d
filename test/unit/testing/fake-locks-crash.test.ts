import { describe, expect, it } from 'vitest';
import { FakeLockManager, lockClient } from '../../../src/testing/fake-locks';

// The fake browser's crash frees a dead tab's locks through its own view of
// the lock manager, as a browser does: at once, and without running or
// settling anything of the dead tab.

const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** Whether the promise settled (within a few microtasks). */
function watch(promise: Promise<unknown>): { settled: boolean } {
  const seen = { settled: false };
  promise.then(
    () => (seen.settled = true),
    () => (seen.settled = true),
  );
  return seen;
}

describe('lockClient(manager).crash', () => {
  it('frees the held lock at once; the request never settles', async () => {
    const manager = new FakeLockManager();
    const tab = lockClient(manager);
    const request = watch(tab.locks.request('L', () => new Promise<void>(() => {})));
    await flush();
    expect(manager.isHeld('L')).toBe(true);
    tab.crash();
    expect(manager.isHeld('L')).toBe(false);
    await flush();
    expect(request.settled).toBe(false);
  });

  it('hands the lock to the next tab, never to another request of the dead one', async () => {
    const manager = new FakeLockManager();
    const [dead, live] = [lockClient(manager), lockClient(manager)];
    const granted: string[] = [];
    const hold = (who: string) => () => {
      granted.push(who);
      return new Promise<void>(() => {});
    };
    void dead.locks.request('L', hold('dead 1'));
    const queued = watch(dead.locks.request('L', hold('dead 2')));
    void live.locks.request('L', hold('live'));
    await flush();
    expect(await manager.query()).toMatchObject({ held: [{ name: 'L' }], pending: [{}, {}] });
    dead.crash();
    expect(await manager.query()).toMatchObject({ held: [{ name: 'L' }], pending: [] });
    await flush();
    expect(granted).toEqual(['dead 1', 'live']);
    expect(queued.settled).toBe(false);
  });

  it('runs no callback of the dead tab: one granted in the same task, nor one asked for afterwards', async () => {
    const manager = new FakeLockManager();
    const tab = lockClient(manager);
    const called: string[] = [];
    const granted = watch(tab.locks.request('L', () => void called.push('granted')));
    const ifAvailable = watch(tab.locks.request('M', { ifAvailable: true }, () => void called.push('M')));
    tab.crash(); // the grants are in, their callbacks not yet run
    expect(manager.isHeld('L')).toBe(false);
    const after = watch(tab.locks.request('N', () => void called.push('after')));
    await flush();
    expect(called).toEqual([]);
    expect([granted.settled, ifAvailable.settled, after.settled]).toEqual([false, false, false]);
    expect(await manager.query()).toEqual({ held: [], pending: [] });
  });

  it('leaves the other tabs and the manager used directly alone', async () => {
    const manager = new FakeLockManager();
    const [dead, live] = [lockClient(manager), lockClient(manager)];
    const liveRequest = live.locks.request('A', async () => 'a');
    const direct = manager.request('B', async () => 'b');
    dead.crash();
    await expect(liveRequest).resolves.toBe('a');
    await expect(direct).resolves.toBe('b');
  });
});
