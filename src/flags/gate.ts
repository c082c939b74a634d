import type { ResolvedFlags } from '../state';
import { fnv1a32, ROLLOUT_BUCKETS } from './rollout-bucket';

/** Name under which the rollout of realtime itself is bucketed. */
export const REALTIME_FLAG = 'realtime';

/**
 * Why realtime is off for this org, or `undefined` when it may run. A disable
 * always wins before any rollout arithmetic.
 */
export function gateReason(flags: ResolvedFlags, orgId: string): string | undefined {
  return flags.emergencyDisable
    ? 'emergency_disable'
    : !flags.enabled
      ? 'disabled'
      : orgId !== '' && flags.disabledOrgs.includes(orgId)
        ? 'org_disabled'
        : // In the rollout: the org's bucket (rolloutBucket(REALTIME_FLAG, orgId),
          // written out: the bundle then has no function and no const of it)
          // below the percent in steps of 0.01 %. No special cases needed: at
          // 100 % and more every bucket (< 10000) is in, at 0 % and less none
          // is, and NaN lets none in.
          fnv1a32(`realtime:${orgId}`) % ROLLOUT_BUCKETS < Math.round(flags.rolloutPercent * 100)
          ? undefined
          : 'not_in_rollout';
}
