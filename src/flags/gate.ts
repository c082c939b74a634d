import type { ResolvedFlags } from '../state';
import { inRollout } from './rollout-bucket';

/** Name under which the rollout of realtime itself is bucketed. */
export const REALTIME_FLAG = 'realtime';

/**
 * Why realtime is off for this org, or `undefined` when it may run. A disable
 * always wins before any rollout arithmetic.
 */
export function gateReason(flags: ResolvedFlags, orgId: string): string | undefined {
  if (flags.emergencyDisable) return 'emergency_disable';
  if (!flags.enabled) return 'disabled';
  if (orgId !== '' && flags.disabledOrgs.includes(orgId)) return 'org_disabled';
  if (!inRollout(REALTIME_FLAG, orgId, flags.rolloutPercent)) return 'not_in_rollout';
  return undefined;
}
