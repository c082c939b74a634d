import { describe, expect, it } from 'vitest';
import { FakeLockManager } from '../../../src/testing';

// Requests that navigator.locks refuses must be refused by the fake too, or a
// user's test passes with code that fails in every browser. What real
// Chromium answered (checked with playwright-core and /usr/bin/chromium):
//   request('x', { ifAvailable: true, signal }, cb)  → rejects NotSupportedError
//   request('-x', cb)                                → rejects NotSupportedError
//   request('x', { mode: 'foo' }, cb)                → rejects TypeError
// (the Web Locks spec's request() steps say the same), and the callback never runs.
describe('FakeLockManager refuses what navigator.locks refuses', () => {
  it('signal together with ifAvailable is NotSupportedError, and the callback never runs', async () => {
    const locks = new FakeLockManager();
    let ran = false;
    await expect(
      locks.request('x', { ifAvailable: true, signal: new AbortController().signal }, () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ name: 'NotSupportedError' });
    // Also when the signal is already aborted: the option check comes first.
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      locks.request('x', { ifAvailable: true, signal: aborted.signal }, () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ name: 'NotSupportedError' });
    expect(ran).toBe(false);
    expect(locks.isHeld('x')).toBe(false);
  });

  it('a lock name starting with "-" is NotSupportedError', async () => {
    const locks = new FakeLockManager();
    let ran = false;
    await expect(
      locks.request('-reserved', () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ name: 'NotSupportedError' });
    expect(ran).toBe(false);
    expect(locks.isHeld('-reserved')).toBe(false);
  });

  it('an unknown mode is a TypeError, not an exclusive lock', async () => {
    const locks = new FakeLockManager();
    let ran = false;
    await expect(
      locks.request('x', { mode: 'exclusve' as 'exclusive' }, () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(ran).toBe(false);
  });

  it('still grants what browsers grant', async () => {
    const locks = new FakeLockManager();
    expect(await locks.request('x', { ifAvailable: true }, (lock) => lock?.name)).toBe('x');
    expect(
      await locks.request('x', { mode: 'exclusive', signal: new AbortController().signal }, (l) => l?.mode),
    ).toBe('exclusive');
    expect(await locks.request('a-b', () => 'ok')).toBe('ok');
  });
});
