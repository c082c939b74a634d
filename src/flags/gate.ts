import type { ResolvedFlags } from '../state';
import { inRollout } from './rollout-bucket';

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
        : inRollout(REALTIME_FLAG, orgId, flags.rolloutPercent)
          ? undefined
          : 'not_in_rollout';
}
