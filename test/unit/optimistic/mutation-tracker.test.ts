import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type MutationOutcome,
  MutationTracker,
  type MutationTrackerOptions,
  type TrackedMutation,
} from '../../../src/optimistic';
import { FakeClock, flushPromises } from '../connection/fake-clock';

function setup(options: Omit<MutationTrackerOptions, 'clock' | 'onSettled' | 'onLate'> = {}) {
  const clock = new FakeClock();
  clock.advance(5_000); // so latencies are not measured from a trivial 0
  const settled: { outcome: MutationOutcome; id: string }[] = [];
  const late: { id: string; afterMs: number }[] = [];
  const tracker = new MutationTracker({
    ...options,
    clock,
    onSettled: (outcome, id) => settled.push({ outcome, id }),
    onLate: (id, afterMs) => late.push({ id, afterMs }),
  });
  return { clock, tracker, settled, late };
}

/** Records which of the convenience promises settled, and when. */
function watch(m: TrackedMutation) {
  const seen: { visible?: { latencyMs: number }; timedOut?: true; result?: MutationOutcome } = {};
  void m.visible.then((value) => {
    seen.visible = value;
  });
  void m.timedOut.then(() => {
    seen.timedOut = true;
  });
  void m.result.then((value) => {
    seen.result = value;
  });
  return seen;
}

describe('MutationTracker', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  describe('visible', () => {
    it('settles as visible with the latency from track when the echo arrives in time', async () => {
      const { clock, tracker, settled } = setup();
      const m = tracker.track('m_1', { timeoutMs: 5000 });
      const seen = watch(m);
      expect(m.id).toBe('m_1');
      expect(m.status()).toBe('pending');

      clock.advance(120);
      tracker.observe([{ mutationId: 'm_1' }]);
      await flushPromises();

      expect(m.status()).toBe('visible');
      expect(seen).toStrictEqual({
        visible: { latencyMs: 120 },
        result: { status: 'visible', latencyMs: 120 },
      });
      expect(settled).toStrictEqual([{ outcome: { status: 'visible', latencyMs: 120 }, id: 'm_1' }]);
      expect(clock.pending).toBe(0); // the timeout timer is cleared

      clock.advance(10_000); // the old deadline passes: nothing more happens
      await flushPromises();
      expect(seen.timedOut).toBeUndefined();
      expect(m.status()).toBe('visible');
      expect(settled).toHaveLength(1);
    });

    it('matches an event anywhere in a batch and ignores repeats of the same id', async () => {
      const { clock, tracker, settled, late } = setup();
      const a = tracker.track('m_a');
      const b = tracker.track('m_b');
      clock.advance(40);
      tracker.observe([{}, { mutationId: 'other' }, { mutationId: 'm_b' }, { mutationId: 'm_b' }]);
      expect(a.status()).toBe('pending');
      expect(b.status()).toBe('visible');
      clock.advance(10);
      tracker.observe([{ mutationId: 'm_b' }, { mutationId: 'm_a' }]);
      expect(a.status()).toBe('visible');
      await expect(a.result).resolves.toStrictEqual({ status: 'visible', latencyMs: 50 });
      await expect(b.result).resolves.toStrictEqual({ status: 'visible', latencyMs: 40 });
      expect(settled.map((s) => s.id)).toStrictEqual(['m_b', 'm_a']);
      expect(late).toStrictEqual([]);
    });

    it('ignores events without a mutationId and ids nobody tracks, storing nothing', () => {
      const { tracker, settled, late } = setup();
      const m = tracker.track('m_1');
      tracker.observe([]);
      tracker.observe([{}, { mutationId: undefined }, { mutationId: 'm_unknown' }, { mutationId: 'M_1' }]);
      for (let i = 0; i < 5000; i++) tracker.observe([{ mutationId: `stranger_${i}` }]);
      expect(m.status()).toBe('pending');
      expect(settled).toStrictEqual([]);
      expect(late).toStrictEqual([]);
      expect(tracker.stats()).toMatchObject({ tracked: 1, pending: 1, late: 0, visible: 0 });
    });

    it('accepts full RealtimeEvent-shaped objects', () => {
      const { tracker } = setup();
      const m = tracker.track('m_V1StGXR8');
      tracker.observe([
        {
          service: 'tasks',
          entityType: 'task',
          seq: 4,
          ts: 1,
          orgId: 'org_1',
          mutationId: 'm_V1StGXR8',
        } as { mutationId?: string },
      ]);
      expect(m.status()).toBe('visible');
    });
  });

  describe('timeout and late echo', () => {
    it('times out after timeoutMs, then reports a late echo once without settling again', async () => {
      const { clock, tracker, settled, late } = setup();
      const m = tracker.track('m_1', { timeoutMs: 2000 });
      const seen = watch(m);

      clock.advance(1999);
      expect(m.status()).toBe('pending');
      clock.advance(1);
      await flushPromises();
      expect(m.status()).toBe('timed_out');
      expect(seen).toStrictEqual({ timedOut: true, result: { status: 'timed_out', afterMs: 2000 } });
      expect(settled).toStrictEqual([{ outcome: { status: 'timed_out', afterMs: 2000 }, id: 'm_1' }]);

      clock.advance(500);
      tracker.observe([{ mutationId: 'm_1' }, { mutationId: 'm_1' }]);
      tracker.observe([{ mutationId: 'm_1' }]);
      await flushPromises();
      expect(m.status()).toBe('timed_out');
      expect(seen.visible).toBeUndefined();
      expect(settled).toHaveLength(1);
      expect(late).toStrictEqual([{ id: 'm_1', afterMs: 2500 }]);
      expect(tracker.stats()).toMatchObject({ timedOut: 1, late: 1, visible: 0, pending: 0 });
    });

    it('uses defaultTimeoutMs when track gives none', () => {
      const { clock, tracker } = setup({ defaultTimeoutMs: 300 });
      const m = tracker.track('m_1');
      clock.advance(299);
      expect(m.status()).toBe('pending');
      clock.advance(1);
      expect(m.status()).toBe('timed_out');
    });

    it('defaults to a 10 s timeout', () => {
      const { clock, tracker } = setup();
      const m = tracker.track('m_1');
      clock.advance(9999);
      expect(m.status()).toBe('pending');
      clock.advance(1);
      expect(m.status()).toBe('timed_out');
    });

    it('remembers a bounded number of timed-out ids for late detection', () => {
      const { clock, tracker, late } = setup({ maxRemembered: 2 });
      tracker.track('m_1', { timeoutMs: 10 });
      tracker.track('m_2', { timeoutMs: 20 });
      tracker.track('m_3', { timeoutMs: 30 });
      clock.advance(30);
      tracker.observe([{ mutationId: 'm_1' }, { mutationId: 'm_2' }, { mutationId: 'm_3' }]);
      expect(late.map((l) => l.id)).toStrictEqual(['m_2', 'm_3']); // m_1 was forgotten
      expect(tracker.stats().late).toBe(2);
    });

    it('with maxRemembered 0 never reports late', () => {
      const { clock, tracker, late } = setup({ maxRemembered: 0 });
      tracker.track('m_1', { timeoutMs: 10 });
      clock.advance(10);
      tracker.observe([{ mutationId: 'm_1' }]);
      expect(late).toStrictEqual([]);
    });

    it('an id tracked again after timing out starts afresh and is not late', async () => {
      const { clock, tracker, late } = setup();
      const first = tracker.track('m_1', { timeoutMs: 10 });
      clock.advance(10);
      const second = tracker.track('m_1', { timeoutMs: 100 });
      expect(second).not.toBe(first);
      clock.advance(5);
      tracker.observe([{ mutationId: 'm_1' }]);
      expect(first.status()).toBe('timed_out');
      expect(second.status()).toBe('visible');
      await expect(second.result).resolves.toStrictEqual({ status: 'visible', latencyMs: 5 });
      expect(late).toStrictEqual([]);
    });
  });

  describe('the same id twice', () => {
    it('returns the same TrackedMutation while pending, keeping the first timeout', () => {
      const { clock, tracker, settled } = setup();
      const first = tracker.track('m_1', { timeoutMs: 100 });
      clock.advance(50);
      const second = tracker.track('m_1', { timeoutMs: 5000 });
      expect(second).toBe(first);
      expect(tracker.stats()).toMatchObject({ tracked: 1, pending: 1 });
      expect(clock.pending).toBe(1);
      clock.advance(50);
      expect(first.status()).toBe('timed_out');
      expect(settled).toHaveLength(1);
    });

    it('still validates the arguments of the repeated call', () => {
      const { tracker } = setup();
      tracker.track('m_1');
      expect(() => tracker.track('m_1', { timeoutMs: -1 })).toThrow(RangeError);
    });
  });

  describe('bounded pending set', () => {
    it('keeps at most maxPending pending under a flood of 10,000 tracks, cancelling the oldest', async () => {
      const { clock, tracker, settled } = setup({ maxPending: 100 });
      const first = tracker.track('m_0');
      for (let i = 1; i < 10_000; i++) {
        tracker.track(`m_${i}`);
        expect(tracker.stats().pending).toBeLessThanOrEqual(100);
      }
      expect(clock.pending).toBe(100); // evicted mutations leave no timers behind
      expect(first.status()).toBe('cancelled');
      await expect(first.result).resolves.toStrictEqual({ status: 'cancelled', reason: 'evicted' });
      expect(tracker.stats()).toStrictEqual({
        tracked: 10_000,
        visible: 0,
        timedOut: 0,
        late: 0,
        cancelled: 9_900,
        pending: 100,
        timeoutRate: 0,
      });
      expect(settled).toHaveLength(9_900);
      expect(settled[0]).toStrictEqual({ outcome: { status: 'cancelled', reason: 'evicted' }, id: 'm_0' });

      // The newest survive and still work.
      tracker.observe([{ mutationId: 'm_9999' }, { mutationId: 'm_0' }]);
      expect(tracker.stats()).toMatchObject({ visible: 1, pending: 99, late: 0 });
    });

    it('evicts in tracking order with maxPending 1', () => {
      const { tracker } = setup({ maxPending: 1 });
      const a = tracker.track('m_a');
      const b = tracker.track('m_b');
      expect(a.status()).toBe('cancelled');
      expect(b.status()).toBe('pending');
      expect(tracker.track('m_b')).toBe(b); // a repeat evicts nothing
      expect(b.status()).toBe('pending');
    });
  });

  describe('cancel', () => {
    it('settles as cancelled, clears the timer, and ignores a later echo', async () => {
      const { clock, tracker, settled, late } = setup();
      const m = tracker.track('m_1');
      const seen = watch(m);
      m.cancel();
      m.cancel();
      await flushPromises();
      expect(m.status()).toBe('cancelled');
      expect(seen).toStrictEqual({ result: { status: 'cancelled', reason: 'cancelled' } });
      expect(clock.pending).toBe(0);
      tracker.observe([{ mutationId: 'm_1' }]);
      clock.advance(20_000);
      expect(m.status()).toBe('cancelled');
      expect(settled).toHaveLength(1);
      expect(late).toStrictEqual([]);
      expect(tracker.stats()).toMatchObject({ cancelled: 1, pending: 0, timeoutRate: 0 });
    });

    it('does nothing once settled', () => {
      const { tracker } = setup();
      const m = tracker.track('m_1');
      tracker.observe([{ mutationId: 'm_1' }]);
      m.cancel();
      expect(m.status()).toBe('visible');
      expect(tracker.stats()).toMatchObject({ visible: 1, cancelled: 0 });
    });

    it('cancelling a stale handle does not touch a newer tracking of the same id', () => {
      const { clock, tracker } = setup();
      const old = tracker.track('m_1', { timeoutMs: 10 });
      clock.advance(10);
      const fresh = tracker.track('m_1');
      old.cancel();
      expect(fresh.status()).toBe('pending');
    });
  });

  describe('dispose', () => {
    it('cancels every pending mutation, clears timers and goes inert', async () => {
      const { clock, tracker, settled, late } = setup();
      const a = tracker.track('m_a');
      const b = tracker.track('m_b', { timeoutMs: 10 });
      clock.advance(10); // b times out and is remembered
      tracker.dispose();
      tracker.dispose();
      expect(clock.pending).toBe(0);
      expect(a.status()).toBe('cancelled');
      await expect(a.result).resolves.toStrictEqual({ status: 'cancelled', reason: 'disposed' });
      expect(settled.map((s) => s.outcome.status)).toStrictEqual(['timed_out', 'cancelled']);

      tracker.observe([{ mutationId: 'm_b' }]);
      expect(late).toStrictEqual([]);
      expect(b.status()).toBe('timed_out');

      const after = tracker.track('m_c');
      expect(after.status()).toBe('cancelled');
      await expect(after.result).resolves.toStrictEqual({ status: 'cancelled', reason: 'disposed' });
      expect(clock.pending).toBe(0);
      expect(tracker.stats()).toMatchObject({ tracked: 2, pending: 0, cancelled: 1, timedOut: 1 });
    });
  });

  describe('after dispose', () => {
    it('neither counts nor reports a mutation tracked after dispose, and cancel() on it does nothing', async () => {
      const { tracker, settled } = setup();
      tracker.dispose();
      const m = tracker.track('m_1');
      m.cancel();
      await expect(m.result).resolves.toStrictEqual({ status: 'cancelled', reason: 'disposed' });
      expect(settled).toStrictEqual([]);
      expect(tracker.stats()).toMatchObject({ tracked: 0, cancelled: 0, pending: 0 });
      expect(tracker.track('m_1')).not.toBe(m);
    });
  });

  describe('stats', () => {
    it('counts outcomes and computes timeoutRate over visible + timed out', () => {
      const { clock, tracker } = setup();
      expect(tracker.stats()).toStrictEqual({
        tracked: 0,
        visible: 0,
        timedOut: 0,
        late: 0,
        cancelled: 0,
        pending: 0,
        timeoutRate: 0,
      });
      tracker.track('m_1', { timeoutMs: 100 });
      tracker.track('m_2', { timeoutMs: 100 });
      tracker.track('m_3', { timeoutMs: 100 });
      tracker.track('m_4', { timeoutMs: 100 }).cancel();
      tracker.track('m_5', { timeoutMs: 1000 });
      clock.advance(50);
      tracker.observe([{ mutationId: 'm_1' }, { mutationId: 'm_2' }]);
      clock.advance(50);
      tracker.observe([{ mutationId: 'm_3' }]); // late
      expect(tracker.stats()).toStrictEqual({
        tracked: 5,
        visible: 2,
        timedOut: 1,
        late: 1,
        cancelled: 1,
        pending: 1,
        timeoutRate: 1 / 3,
      });
    });
  });

  describe('callbacks', () => {
    it('reports what onSettled and onLate throw and keeps working', () => {
      const reportError = vi.fn();
      vi.stubGlobal('reportError', reportError);
      try {
        const clock = new FakeClock();
        const tracker = new MutationTracker({
          clock,
          onSettled: () => {
            throw new Error('settled boom');
          },
          onLate: () => {
            throw new Error('late boom');
          },
        });
        const a = tracker.track('m_a', { timeoutMs: 10 });
        const b = tracker.track('m_b', { timeoutMs: 100 });
        clock.advance(10);
        tracker.observe([{ mutationId: 'm_a' }, { mutationId: 'm_b' }]);
        expect(a.status()).toBe('timed_out');
        expect(b.status()).toBe('visible');
        expect(reportError.mock.calls.map(([error]) => (error as Error).message)).toStrictEqual([
          'settled boom',
          'late boom',
          'settled boom',
        ]);
        expect(tracker.stats()).toMatchObject({ late: 1, visible: 1, timedOut: 1 });
      } finally {
        vi.unstubAllGlobals();
      }
    });
  });

  describe('default clock', () => {
    it('works with vitest fake timers and the system clock', async () => {
      vi.useFakeTimers();
      const tracker = new MutationTracker({ defaultTimeoutMs: 1000 });
      const m = tracker.track('m_1');
      const v = tracker.track('m_2');
      vi.advanceTimersByTime(250);
      tracker.observe([{ mutationId: 'm_2' }]);
      vi.advanceTimersByTime(750);
      await expect(m.result).resolves.toStrictEqual({ status: 'timed_out', afterMs: 1000 });
      await expect(v.result).resolves.toStrictEqual({ status: 'visible', latencyMs: 250 });
      tracker.dispose();
    });
  });

  describe('validation', () => {
    it.each([
      [{ defaultTimeoutMs: 0 }, 'defaultTimeoutMs must be a finite number ≥ 1 and ≤ 2147483647, got 0'],
      [
        { defaultTimeoutMs: Number.NaN },
        'defaultTimeoutMs must be a finite number ≥ 1 and ≤ 2147483647, got NaN',
      ],
      [
        { defaultTimeoutMs: 2 ** 31 },
        'defaultTimeoutMs must be a finite number ≥ 1 and ≤ 2147483647, got 2147483648',
      ],
      [{ maxPending: 0 }, 'maxPending must be an integer ≥ 1, got 0'],
      [{ maxPending: 1.5 }, 'maxPending must be an integer ≥ 1, got 1.5'],
      [{ maxRemembered: -1 }, 'maxRemembered must be an integer ≥ 0, got -1'],
      [{ onSettled: 'x' }, 'onSettled must be a function, got "x"'],
      [{ onLate: 1 }, 'onLate must be a function, got 1'],
    ])('rejects options %o', (options, message) => {
      expect(() => new MutationTracker(options as MutationTrackerOptions)).toThrow(new RangeError(message));
    });

    it.each([
      ['', '""'],
      ['x'.repeat(201), `"${'x'.repeat(38)}…`],
      ['has space', '"has space"'],
      ['line\nbreak', '"line\\nbreak"'],
      ['é', '"é"'],
      [42, '42'],
      [undefined, 'undefined'],
    ])('rejects mutation id %j', (id, shown) => {
      const { tracker } = setup();
      expect(() => tracker.track(id as string)).toThrow(
        new RangeError(
          `mutationId must be a non-empty string of at most 200 visible ASCII characters, got ${shown}`,
        ),
      );
      expect(tracker.stats().tracked).toBe(0);
    });

    it('accepts an id of exactly 200 characters', () => {
      const { tracker } = setup();
      expect(tracker.track('x'.repeat(200)).status()).toBe('pending');
    });

    it.each([0, -5, Number.POSITIVE_INFINITY, '100'])('rejects timeoutMs %j', (timeoutMs) => {
      const { tracker, clock } = setup();
      expect(() => tracker.track('m_1', { timeoutMs: timeoutMs as number })).toThrow(RangeError);
      expect(tracker.stats()).toMatchObject({ tracked: 0, pending: 0 });
      expect(clock.pending).toBe(0);
    });
  });
});
