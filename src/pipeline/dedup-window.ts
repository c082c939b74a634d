import type { RealtimeEvent } from '../protocol/schemas';

/** Keys a service's {@link dedupWindow} remembers by default (the `dedupWindow` option's default). */
export const DEFAULT_DEDUP_CAPACITY = 4096;

/** Largest capacity EventPipeline accepts: far beyond any replay overlap, and still a few MB at most. */
export const MAX_DEDUP_CAPACITY = 1 << 20;

/**
 * Records `key`: `true` when it was new, `false` when it is a duplicate of a
 * remembered key (the window is then left unchanged).
 */
export type DedupWindow = (key: string) => boolean;

/**
 * A window that remembers the last `capacity` distinct keys, forgetting the
 * oldest first. `capacity` must already be valid: EventPipeline checks it, an
 * integer in 1..{@link MAX_DEDUP_CAPACITY}.
 *
 * A Set answers "seen?" in O(1); a ring buffer of the same keys in insertion
 * order says which one to evict, so memory stays at `capacity` keys however
 * long the stream runs. A key seen again is NOT moved to the front: replays
 * overlap by a bounded amount, so first-seen order is what matters, and not
 * touching the ring on a hit keeps the window branch-light. A closure, not a
 * class: its one user (ServiceDedup) only ever calls it.
 */
export function dedupWindow(capacity: number): DedupWindow {
  const keys = new Set<string>();
  // Grows slot by slot until full, then is overwritten in place: no preallocation
  // for the many services that only ever see a handful of events.
  const ring: string[] = [];
  let oldest = 0;
  return (key) => {
    if (keys.has(key)) return false;
    // Until the ring is full its next slot is empty (`undefined`, never a key),
    // and writing it grows the ring by one as a push would.
    keys.delete(ring[oldest] as string);
    ring[oldest] = key;
    oldest = (oldest + 1) % capacity;
    keys.add(key);
    return true;
  };
}

/**
 * The dedup key of PROTOCOL.md: `service:entityType:eventId`, or
 * `service:seq:<seq>` when the event has no `eventId`.
 */
export function dedupKey(event: RealtimeEvent): string {
  return event.eventId === undefined
    ? `${event.service}:seq:${event.seq}`
    : `${event.service}:${event.entityType}:${event.eventId}`;
}
