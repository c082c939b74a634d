import { describe, expect, it } from 'vitest';
import {
  type LeaderSample,
  leaderEventOverlaps,
  leaderOverlaps,
  maxSampleGapMs,
} from '../../browser/harness';

/** `[t, isLeader]` every 10 ms from `from` to `to`, leading while `leads(t)`. */
function sampled(from: number, to: number, leads: (t: number) => boolean): LeaderSample[] {
  const out: LeaderSample[] = [];
  for (let t = from; t <= to; t += 10) out.push([t, leads(t)]);
  return out;
}

describe('chaos soak: "never two leaders"', () => {
  it('the exact check sees an overlap shorter than the 10 ms sampling, which the samples miss', () => {
    // A leads until 997, B from 993: 4 ms of two leaders, between samples.
    const a = {
      leaderEvents: [
        [0, true],
        [997, false],
      ] as LeaderSample[],
      samples: sampled(0, 2000, (t) => t < 997),
    };
    const b = { leaderEvents: [[993, true]] as LeaderSample[], samples: sampled(5, 2005, (t) => t >= 993) };
    expect(leaderOverlaps({ a: a.samples, b: b.samples })).toEqual([]);
    const found = leaderEventOverlaps({ a: { ...a, endAt: 2000 }, b: { ...b, endAt: 2005 } });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('for 4 ms from 993');
  });

  it('the exact check sees an overlap during a sampling stall the soak allows (< 1 s), which the samples miss', () => {
    // A leads throughout but takes no sample from 1000 to 1600 (a stall); B leads 1200..1400.
    const aSamples = sampled(0, 3000, () => true).filter(([t]) => t < 1000 || t > 1600);
    const bSamples = sampled(5, 3005, (t) => t >= 1200 && t < 1400);
    expect(maxSampleGapMs({ a: aSamples, b: bSamples })).toBeLessThan(1000);
    expect(leaderOverlaps({ a: aSamples, b: bSamples })).toEqual([]);
    const found = leaderEventOverlaps({
      a: { leaderEvents: [[0, true]], endAt: 3000 },
      b: {
        leaderEvents: [
          [1200, true],
          [1400, false],
        ],
        endAt: 3005,
      },
    });
    expect(found).toHaveLength(1);
  });

  it('a clean hand-over, a killed leader and re-elections are not overlaps', () => {
    expect(
      leaderEventOverlaps({
        // Killed while leading: its run ends at its last sample.
        a: { leaderEvents: [[0, true]], endAt: 500 },
        b: {
          leaderEvents: [
            [530, true],
            [900, false],
            [1500, true],
          ],
          endAt: 3000,
        },
        // Takes over in the very millisecond b steps down.
        c: {
          leaderEvents: [
            [900, true],
            [1400, false],
          ],
          endAt: 3000,
        },
      }),
    ).toEqual([]);
  });

  it('leaves out overlaps of at most allowMs (the soak under the storage lease), and only those', () => {
    // B claims at 1000 and leads; A steps down at its next tick, 800 ms later.
    const byTab = {
      a: {
        leaderEvents: [
          [0, true],
          [1800, false],
        ] as LeaderSample[],
        endAt: 3000,
      },
      b: { leaderEvents: [[1000, true]] as LeaderSample[], endAt: 3000 },
    };
    const samples = {
      a: sampled(0, 3000, (t) => t < 1800),
      b: sampled(0, 3000, (t) => t >= 1000),
    };
    expect(leaderEventOverlaps(byTab)).toHaveLength(1);
    expect(leaderEventOverlaps(byTab, 500)).toHaveLength(1);
    expect(leaderEventOverlaps(byTab, 1500)).toEqual([]);
    expect(leaderOverlaps(samples)).toHaveLength(1);
    expect(leaderOverlaps(samples, 100, 500)).toHaveLength(1);
    expect(leaderOverlaps(samples, 100, 1500)).toEqual([]);
  });
});
