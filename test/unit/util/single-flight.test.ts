import { describe, expect, it, vi } from 'vitest';
import { SingleFlight, singleFlight, singleFlightByKey } from '../../../src/util/single-flight';
import { type Deferred, deferred } from '../deferred';

describe('singleFlight', () => {
  it('shares one in-flight call among concurrent callers', async () => {
    const pending = deferred<string>();
    const fn = vi.fn(() => pending.promise);
    const run = singleFlight(fn);
    const calls = [run(), run(), run(), run(), run()];
    expect(fn).toHaveBeenCalledTimes(1);
    expect(new Set(calls).size).toBe(1);
    pending.resolve('v');
    await expect(Promise.all(calls)).resolves.toEqual(['v', 'v', 'v', 'v', 'v']);
  });

  it('starts a new call after the previous one settled', async () => {
    let n = 0;
    const run = singleFlight(async () => ++n);
    await expect(run()).resolves.toBe(1);
    await expect(run()).resolves.toBe(2);
  });

  it('does not cache a failure: a caller retrying in its catch starts a fresh call', async () => {
    const fn = vi.fn().mockRejectedValueOnce(new Error('first')).mockResolvedValueOnce('second');
    const run = singleFlight<string>(fn);
    const retried = run().catch(() => run());
    await expect(retried).resolves.toBe('second');
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('shares a rejection among concurrent callers', async () => {
    const pending = deferred<string>();
    const run = singleFlight(() => pending.promise);
    const a = run();
    const b = run();
    pending.reject(new Error('down'));
    await expect(a).rejects.toThrow('down');
    await expect(b).rejects.toThrow('down');
  });

  it('turns a synchronous throw into a rejection and does not share it', async () => {
    const fn = vi
      .fn<() => Promise<string>>()
      .mockImplementationOnce(() => {
        throw new Error('sync');
      })
      .mockResolvedValueOnce('ok');
    const run = singleFlight(fn);
    await expect(run()).rejects.toThrow('sync');
    await expect(run()).resolves.toBe('ok');
  });

  it('exposes the pending call on the class', async () => {
    const pending = deferred<number>();
    const flight = new SingleFlight(() => pending.promise);
    expect(flight.inFlight).toBeUndefined();
    const call = flight.run();
    expect(flight.inFlight).toBe(call);
    pending.resolve(1);
    await call;
    expect(flight.inFlight).toBeUndefined();
  });
});

describe('singleFlightByKey', () => {
  it('shares per key and runs different keys independently', async () => {
    const pending = new Map<string, Deferred<string>>();
    const fn = vi.fn((key: string) => {
      const d = deferred<string>();
      pending.set(key, d);
      return d.promise;
    });
    const run = singleFlightByKey(fn);
    const a1 = run('a');
    const a2 = run('a');
    const b1 = run('b');
    expect(a1).toBe(a2);
    expect(a1).not.toBe(b1);
    expect(fn).toHaveBeenCalledTimes(2);
    pending.get('a')!.resolve('A');
    pending.get('b')!.reject(new Error('B'));
    await expect(a1).resolves.toBe('A');
    await expect(b1).rejects.toThrow('B');
    // Both keys settled, so both start afresh.
    void run('a');
    void run('b').catch(() => {});
    expect(fn).toHaveBeenCalledTimes(4);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const run = singleFlightByKey<number, number>(() => {
      throw new Error('sync');
    });
    await expect(run(1)).rejects.toThrow('sync');
  });
});
