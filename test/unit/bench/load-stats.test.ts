import { describe, expect, it } from 'vitest';
import { MsHistogram, type Seed002Figures, SeqRecord, seed002Verdicts } from '../../../bench/load/stats';

const atTarget: Seed002Figures = {
  catchUpRounds: 10,
  catchUpRoundsPlanned: 10,
  catchUpMs: [3, 4, 5, 6, 6, 3, 3, 4, 5, 6],
  catchUpHoles: 0,
  catchUpDuplicates: 0,
  broadcastSubscribers: 200,
  broadcastConnected: 200,
  broadcastMessages: 10_000,
  broadcastDeliveries: 2_000_000,
  broadcastP95: 71,
  broadcastHoles: 0,
  broadcastDuplicates: 0,
};

describe('load bench: seed 002 verdicts', () => {
  it('pass at the issue scale within the targets', () => {
    expect(seed002Verdicts(atTarget).failures).toEqual([]);
  });

  it('fail when a latency target is missed', () => {
    const slowBroadcast = seed002Verdicts({ ...atTarget, broadcastP95: 600 });
    expect(slowBroadcast.broadcast).toBe(false);
    expect(slowBroadcast.failures).toHaveLength(1);
    const slowCatchUp = seed002Verdicts({ ...atTarget, catchUpMs: [...atTarget.catchUpMs.slice(1), 1500] });
    expect(slowCatchUp.catchUp).toBe(false);
  });

  it('fail below the issue scale or with an incomplete run, however fast', () => {
    expect(
      seed002Verdicts({
        ...atTarget,
        broadcastSubscribers: 20,
        broadcastConnected: 20,
        broadcastDeliveries: 200_000,
      }).broadcast,
    ).toBe(false);
    expect(
      seed002Verdicts({ ...atTarget, broadcastMessages: 1000, broadcastDeliveries: 200_000 }).broadcast,
    ).toBe(false);
    expect(seed002Verdicts({ ...atTarget, broadcastConnected: 199 }).broadcast).toBe(false);
    expect(seed002Verdicts({ ...atTarget, broadcastDeliveries: 1_999_999 }).broadcast).toBe(false);
    expect(
      seed002Verdicts({ ...atTarget, catchUpRounds: 9, catchUpMs: atTarget.catchUpMs.slice(1) }).catchUp,
    ).toBe(false);
    expect(
      seed002Verdicts({ ...atTarget, catchUpRounds: 0, catchUpRoundsPlanned: 0, catchUpMs: [] }).catchUp,
    ).toBe(false);
  });

  it('fail on a drop or a repeat', () => {
    expect(seed002Verdicts({ ...atTarget, broadcastHoles: 1 }).failures).toHaveLength(1);
    expect(seed002Verdicts({ ...atTarget, catchUpDuplicates: 1 }).failures).toHaveLength(1);
  });
});

describe('load bench: SeqRecord and MsHistogram', () => {
  it('counts holes up to the published N, not up to the last seq seen', () => {
    const r = new SeqRecord();
    for (const seq of [1, 2, 2, 4]) r.add(seq);
    expect(r.check(6)).toEqual({ holes: 3, duplicates: 1, stray: 0, distinct: 3 });
    r.add(7);
    expect(r.check(6).stray).toBe(1);
  });

  it('gives nearest-rank percentiles', () => {
    const h = new MsHistogram();
    for (let ms = 1; ms <= 100; ms++) h.add(ms);
    expect([h.quantile(0.5), h.quantile(0.95), h.quantile(0.99), h.quantile(1)]).toEqual([50, 95, 99, 100]);
  });
});
