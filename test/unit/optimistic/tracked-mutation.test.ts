import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type MutationOutcome,
  PendingMutations,
  trackOne,
  trackTimeout,
} from '../../../src/optimistic/tracked-mutation';
import { FakeClock, flushPromises } from '../connection/fake-clock';

// The part of optimistic tracking the client's core carries: one mutation,
// and the bounded set of pending ones.

describe('trackTimeout', () => {
  it('returns the timeout, or the default, and throws the RangeErrors of track', () => {
    expect(trackTimeout('m_1', {}, 300)).toBe(300);
    expect(trackTimeout('m_1', { timeoutMs: 5 }, 300)).toBe(5);
    expect(() => trackTimeout('', {}, 300)).toThrow(RangeError);
    expect(() => trackTimeout('m_1', { timeoutMs: 0 }, 300)).toThrow(
      new RangeError('timeoutMs must be an integer ≥ 1 and ≤ 2147483647, got 0'),
    );
    // Whole milliseconds, as the `optimistic.timeoutMs` option.
    expect(() => trackTimeout('m_1', { timeoutMs: 1.5 }, 300)).toThrow(
      new RangeError('timeoutMs must be an integer ≥ 1 and ≤ 2147483647, got 1.5'),
    );
    expect(() => trackTimeout('m_1', null as unknown as object, 300)).toThrow(RangeError);
  });
});

// docs/options.md: the `production` build (NODE_ENV "production") trusts
// the app's arguments; the expression is read at call time, so stubbing the
// environment switches the checks.
describe('trackTimeout in the production build', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('no longer refuses invalid arguments: the timeout passes through', () => {
    vi.stubEnv('NODE_ENV', 'production');
    expect(trackTimeout('', {}, 300)).toBe(300);
    expect(trackTimeout('has space', { timeoutMs: 0 }, 300)).toBe(0);
    expect(trackTimeout('m_1', { timeoutMs: 1.5 }, 300)).toBe(1.5);
  });

  it('returns what the default build returns for every valid call', () => {
    const id = fc.stringMatching(/^[!-~]{1,200}$/);
    const timeout = fc.integer({ min: 1, max: 2_147_483_647 });
    fc.assert(
      fc.property(id, fc.option(timeout, { nil: undefined }), timeout, (mutationId, timeoutMs, fallback) => {
        const options = timeoutMs === undefined ? {} : { timeoutMs };
        vi.stubEnv('NODE_ENV', 'test');
        const checked = trackTimeout(mutationId, options, fallback);
        vi.stubEnv('NODE_ENV', 'production');
        expect(trackTimeout(mutationId, options, fallback)).toBe(checked);
      }),
    );
  });
});

describe('trackOne', () => {
  it('settles once, tells its owner after resolving, and stops its timer', async () => {
    const clock = new FakeClock();
    const told: MutationOutcome[] = [];
    const m = trackOne('m_1', 100, clock, (mutation, outcome) => {
      expect(mutation.handle.status()).toBe(outcome.status);
      told.push(outcome);
    });
    expect(clock.pending).toBe(1);
    clock.advance(30);
    m.echoed();
    m.echoed();
    m.handle.cancel();
    expect(clock.pending).toBe(0);
    expect(told).toEqual([{ status: 'visible', latencyMs: 30 }]);
    await expect(m.handle.visible).resolves.toEqual({ latencyMs: 30 });
    await expect(m.handle.result).resolves.toEqual({ status: 'visible', latencyMs: 30 });
  });

  it('times out after timeoutMs with afterMs, resolving `timedOut` only', async () => {
    const clock = new FakeClock();
    const m = trackOne('m_1', 100, clock, () => {});
    let visible = false;
    void m.handle.visible.then(() => {
      visible = true;
    });
    clock.advance(100);
    expect(m.handle.status()).toBe('timed_out');
    await expect(m.handle.timedOut).resolves.toBeUndefined();
    await expect(m.handle.result).resolves.toEqual({ status: 'timed_out', afterMs: 100 });
    await flushPromises();
    expect(visible).toBe(false);
  });
});

describe('PendingMutations', () => {
  function setup(maxPending = 2) {
    const clock = new FakeClock();
    const settled: string[] = [];
    const set = new PendingMutations(clock, maxPending, (outcome, mutation) =>
      settled.push(`${mutation.handle.id} ${outcome.status}`),
    );
    return { clock, set, settled };
  }

  it('keeps one mutation per pending id and evicts the oldest past maxPending', async () => {
    const { clock, set, settled } = setup();
    const a = set.track('m_a', 100);
    expect(set.track('m_a', 5000)).toBe(a);
    set.track('m_b', 100);
    set.track('m_c', 100);
    expect(settled).toEqual(['m_a cancelled']);
    await expect(a.result).resolves.toEqual({ status: 'cancelled', reason: 'evicted' });
    expect(clock.pending).toBe(2);
    // m_b and m_c are pending: their echoes settle them.
    set.observe([{ mutationId: 'm_b' }, { mutationId: 'm_c' }]);
    expect(settled).toEqual(['m_a cancelled', 'm_b visible', 'm_c visible']);
    // m_a is not: tracking it again makes a new mutation.
    expect(set.track('m_a', 100)).not.toBe(a);
  });

  it('settles an echoed id visible once, anywhere in the batch, and ignores the rest', () => {
    const { set, settled } = setup();
    const a = set.track('m_a', 100);
    set.observe([{}, { mutationId: 'x' }, { mutationId: 'm_a' }, { mutationId: 'm_a' }, { mutationId: '' }]);
    expect(settled).toEqual(['m_a visible']);
    expect(a.status()).toBe('visible');
    // No longer pending: tracking the id again makes a new mutation.
    expect(set.track('m_a', 100)).not.toBe(a);
  });

  it('lets a stale handle cancel nothing: a newer tracking of the same id stays pending', () => {
    const { set, settled } = setup();
    const first = set.track('m_a', 100);
    set.observe([{ mutationId: 'm_a' }]);
    const second = set.track('m_a', 100);
    expect(second).not.toBe(first);
    first.cancel();
    expect(second.status()).toBe('pending');
    // Still the pending mutation of m_a: tracking the id again gives it back.
    expect(set.track('m_a', 100)).toBe(second);
    expect(settled).toEqual(['m_a visible']);
  });

  it('stays bounded under a flood of tracks', () => {
    const { clock, set, settled } = setup(100);
    for (let i = 0; i < 10_000; i++) set.track(`m_${i}`, 60_000);
    expect(clock.pending).toBe(100);
    // The newest 100 are pending, the older ones were evicted.
    expect(settled).toHaveLength(9900);
    expect(settled.at(-1)).toBe('m_9899 cancelled');
    set.observe([{ mutationId: 'm_9899' }, { mutationId: 'm_9900' }, { mutationId: 'm_9999' }]);
    expect(settled.slice(9900)).toEqual(['m_9900 visible', 'm_9999 visible']);
  });

  it('dispose() cancels every pending mutation as disposed and clears the timers', async () => {
    const { clock, set, settled } = setup();
    const a = set.track('m_a', 100);
    set.track('m_b', 100);
    set.dispose();
    expect(settled).toEqual(['m_a cancelled', 'm_b cancelled']);
    expect(clock.pending).toBe(0);
    await expect(a.result).resolves.toEqual({ status: 'cancelled', reason: 'disposed' });
  });
});
