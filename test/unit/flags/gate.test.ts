import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gateReason, REALTIME_FLAG } from '../../../src/flags/gate';
import { fnv1a32, ROLLOUT_BUCKETS, rolloutBucket } from '../../../src/flags/rollout-bucket';
import { DEFAULT_FLAGS } from '../../../src/options';

/** The gate's rollout rule alone: with nothing else disabled, `org` is let in at `percent`. */
const inRollout = (org: string, percent: number) =>
  gateReason({ ...DEFAULT_FLAGS, rolloutPercent: percent }, org) === undefined;

describe('rollout bucket', () => {
  it('is FNV-1a 32: known vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('puts every org in one stable bucket of 0..9999', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (flag, org) => {
        const bucket = rolloutBucket(flag, org);
        expect(Number.isInteger(bucket)).toBe(true);
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(ROLLOUT_BUCKETS);
        expect(rolloutBucket(flag, org)).toBe(bucket);
      }),
    );
  });

  it('only ever adds orgs as the percent grows, in steps of 0.01 %', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 9999 }), (org, step) => {
        const percent = step / 100;
        if (inRollout(org, percent)) expect(inRollout(org, percent + 0.01)).toBe(true);
      }),
    );
    const org = 'org_7';
    const bucket = rolloutBucket(REALTIME_FLAG, org);
    expect(inRollout(org, bucket / 100)).toBe(false);
    expect(inRollout(org, (bucket + 1) / 100)).toBe(true);
  });

  it('counts the percent in steps of 0.01 %, as docs/rollout.md says: 33.333 lets in buckets 0–3332', () => {
    let org = 0;
    while (rolloutBucket(REALTIME_FLAG, `org_${org}`) !== 3333) org++;
    expect(inRollout(`org_${org}`, 33.333)).toBe(false);
    expect(inRollout(`org_${org}`, 33.33)).toBe(false);
    expect(inRollout(`org_${org}`, 33.335)).toBe(true);
  });

  it('lets every org in at 100 % and more, none at 0 % and less or NaN', () => {
    for (let i = 0; i < 200; i++) {
      const org = `org_${i}`;
      for (const percent of [100, 150, Number.POSITIVE_INFINITY]) {
        expect(inRollout(org, percent)).toBe(true);
      }
      for (const percent of [0, -0.001, -5, Number.NEGATIVE_INFINITY, Number.NaN]) {
        expect(inRollout(org, percent)).toBe(false);
      }
    }
  });

  it('spreads orgs evenly enough that 25 % lets in about a quarter', () => {
    let inside = 0;
    for (let i = 0; i < 10_000; i++) if (inRollout(`org_${i}`, 25)) inside++;
    expect(inside).toBeGreaterThan(2300);
    expect(inside).toBeLessThan(2700);
  });
});

describe('gateReason', () => {
  const flags = (over: Partial<typeof DEFAULT_FLAGS>) => ({ ...DEFAULT_FLAGS, ...over });

  it('lets realtime run with the default flags', () => {
    expect(gateReason(DEFAULT_FLAGS, 'org_1')).toBeUndefined();
  });

  it('puts a disable before any rollout arithmetic', () => {
    expect(gateReason(flags({ emergencyDisable: true, rolloutPercent: 100 }), 'org_1')).toBe(
      'emergency_disable',
    );
    expect(gateReason(flags({ enabled: false }), 'org_1')).toBe('disabled');
    expect(gateReason(flags({ disabledOrgs: ['org_1'], rolloutPercent: 100 }), 'org_1')).toBe('org_disabled');
    expect(gateReason(flags({ emergencyDisable: true, enabled: false }), 'org_1')).toBe('emergency_disable');
  });

  it('applies the rollout percent by the org bucket', () => {
    expect(gateReason(flags({ rolloutPercent: 0 }), 'org_1')).toBe('not_in_rollout');
    const bucket = rolloutBucket(REALTIME_FLAG, 'org_1');
    expect(gateReason(flags({ rolloutPercent: (bucket + 1) / 100 }), 'org_1')).toBeUndefined();
    expect(gateReason(flags({ rolloutPercent: bucket / 100 }), 'org_1')).toBe('not_in_rollout');
  });
});
