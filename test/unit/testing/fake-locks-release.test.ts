import { describe, expect, it } from 'vitest';
import { FakeLockManager } from '../../../src/testing';

// In browsers a request's promise settles only after its lock is released
// (Web Locks: "release the lock, then resolve the released promise"), so code
// that awaits one request and then asks again with `ifAvailable` gets the
// lock. The fake settled the request first and released a microtask later.
describe('FakeLockManager releases a lock before its request settles', () => {
  it('after a fulfilled request the lock is free, and ifAvailable gets it', async () => {
    const locks = new FakeLockManager();
    expect(await locks.request('sync', () => 'done')).toBe('done');
    expect(locks.isHeld('sync')).toBe(false);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
    const lock = await locks.request('sync', { ifAvailable: true }, (granted) => granted);
    expect(lock).toEqual({ name: 'sync', mode: 'exclusive' });
  });

  it('after a rejected request the lock is free too', async () => {
    const locks = new FakeLockManager();
    let error: unknown;
    try {
      await locks.request('sync', () => {
        throw new Error('boom');
      });
    } catch (e) {
      error = e;
    }
    expect(error).toEqual(new Error('boom'));
    expect(locks.isHeld('sync')).toBe(false);
    const lock = await locks.request('sync', { ifAvailable: true }, (granted) => granted);
    expect(lock?.name).toBe('sync');
  });

  it('hands the lock to the next waiter by the time the first request settles', async () => {
    const locks = new FakeLockManager();
    const order: string[] = [];
    const first = locks.request('x', async () => {
      order.push('a');
    });
    const second = locks.request('x', async () => {
      order.push('b');
    });
    await first;
    expect(locks.isHeld('x')).toBe(true); // b's now
    await second;
    expect(order).toEqual(['a', 'b']);
    expect(locks.isHeld('x')).toBe(false);
  });
});
