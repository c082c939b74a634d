import { type DedupWindow, dedupWindow } from './dedup-window';

/**
 * Records the key of an event of one service: `true` when it is new, `false`
 * for a duplicate.
 */
export type ServiceDedup = (entityType: string, eventId: string) => boolean;

/**
 * The dedup memory of one service, keyed as PROTOCOL.md says
 * (`service:entityType:eventId`; the service is implied by the owner).
 * `capacity` must already be valid (EventPipeline checks it).
 *
 * Building `entityType:eventId` for every event costs a string concatenation
 * and the flattening of the result when it is hashed, which measured about as
 * much as all the Set work itself. A service nearly always carries one entity
 * type, so the first type seen gets a window keyed by the bare `eventId`, and
 * only events of other types pay for a composite key, in a second window.
 * Each window is FIFO over its own keys, so the service still remembers at
 * least its last `capacity` distinct keys, and at most `2 × capacity` in all.
 */
export function serviceDedup(capacity: number): ServiceDedup {
  let primaryType: string | undefined;
  const primary = dedupWindow(capacity);
  let others: DedupWindow | undefined;
  return (entityType, eventId) => {
    // The first type seen becomes the primary one.
    primaryType ??= entityType;
    if (entityType === primaryType) return primary(eventId);
    others ??= dedupWindow(capacity);
    // Length-prefixed: `a:b` + `c` and `a` + `b:c` joined by a bare `:` are one key.
    return others(`${entityType.length}:${entityType}${eventId}`);
  };
}
