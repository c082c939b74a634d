import { describe, expect, it } from 'vitest';
import { FakeLockManager } from '../../../src/testing';

const tick = () => new Promise((r) => setTimeout(r, 0));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('FakeLockManager', () => {
  it('grants one holder at a time, in request order, and settles each request with its callback', async () => {
    const locks = new FakeLockManager();
    const order: string[] = [];
    const first = deferred();
    const a = locks.request('x', async (lock) => {
      order.push(`a:${lock?.name}`);
      await first.promise;
      return 'A';
    });
    const b = locks.request('x', async () => {
      order.push('b');
      return 'B';
    });
    const other = locks.request('y', async () => {
      order.push('other');
    });
    await tick();
    expect(order).toEqual(['a:x', 'other']);
    expect(locks.isHeld('x')).toBe(true);
    expect(await locks.query()).toEqual({
      held: [{ name: 'x', mode: 'exclusive' }],
      pending: [{ name: 'x', mode: 'exclusive' }],
    });
    first.resolve();
    expect(await a).toBe('A');
    expect(await b).toBe('B');
    await other;
    expect(order).toEqual(['a:x', 'other', 'b']);
    expect(locks.isHeld('x')).toBe(false);
  });

  it('takes an aborted pending request out of the queue, rejecting with the reason', async () => {
    const locks = new FakeLockManager();
    const hold = deferred();
    const held = locks.request('x', () => hold.promise);
    const abort = new AbortController();
    let granted = false;
    const pending = locks.request('x', { signal: abort.signal }, async () => {
      granted = true;
    });
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    hold.resolve();
    await held;
    await tick();
    expect(granted).toBe(false);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  });

  it('rejects at once for a signal aborted before the request', async () => {
    const locks = new FakeLockManager();
    const reason = new Error('gone');
    await expect(locks.request('x', { signal: AbortSignal.abort(reason) }, async () => {})).rejects.toBe(
      reason,
    );
  });

  it('ignores an abort after the grant', async () => {
    const locks = new FakeLockManager();
    const abort = new AbortController();
    const hold = deferred();
    const request = locks.request('x', { signal: abort.signal }, () => hold.promise);
    await tick();
    abort.abort();
    expect(locks.isHeld('x')).toBe(true);
    hold.resolve();
    await expect(request).resolves.toBeUndefined();
  });

  it('calls back with null for ifAvailable when the lock is taken', async () => {
    const locks = new FakeLockManager();
    const hold = deferred();
    void locks.request('x', () => hold.promise);
    await tick();
    expect(await locks.request('x', { ifAvailable: true }, (lock) => lock)).toBeNull();
    hold.resolve();
    await tick();
    expect(await locks.request('x', { ifAvailable: true }, (lock) => lock?.name)).toBe('x');
  });

  it('releases the lock when the callback throws or rejects, and rejects the request', async () => {
    const locks = new FakeLockManager();
    await expect(
      locks.request('x', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(locks.request('x', async () => Promise.reject(new Error('async')))).rejects.toThrow('async');
    expect(await locks.request('x', () => 'free again')).toBe('free again');
  });

  it('refuses what it does not model', async () => {
    const locks = new FakeLockManager();
    await expect(locks.request('x', { mode: 'shared' }, () => {})).rejects.toMatchObject({
      name: 'NotSupportedError',
    });
  });
});
