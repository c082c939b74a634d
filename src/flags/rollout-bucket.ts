/** Buckets of a rollout: percent steps of 0.01 %. */
export const ROLLOUT_BUCKETS = 10_000;

/**
 * FNV-1a (32 bit) of the UTF-16 code units of `text`. Chosen because it is a
 * few lines, has no dependencies and spreads short ids like org ids well
 * enough for rollout buckets; it is not a security hash.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * The stable bucket (0..9999) of an org for a flag: the same in every tab and
 * session, so a rollout percent is sticky and only ever adds orgs as it grows.
 */
export function rolloutBucket(flagName: string, orgId: string): number {
  return fnv1a32(`${flagName}:${orgId}`) % ROLLOUT_BUCKETS;
}
