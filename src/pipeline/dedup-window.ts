import type { RealtimeEvent } from '../protocol/schemas';

/** Keys a {@link DedupWindow} remembers when no capacity is given. */
export const DEFAULT_DEDUP_CAPACITY = 4096;

/** Largest capacity EventPipeline accepts: far beyond any replay overlap, and still a few MB at most. */
export const MAX_DEDUP_CAPACITY = 1 << 20;

/**
 * Remembers the last `capacity` distinct keys, forgetting the oldest first.
 *
 * A Set answers "seen?" in O(1); a ring buffer of the same keys in insertion
 * order says which one to evict, so memory stays at `capacity` keys however
 * long the stream runs. A key seen again is NOT moved to the front: replays
 * overlap by a bounded amount, so first-seen order is what matters, and not
 * touching the ring on a hit keeps `add` branch-light.
 */
export class DedupWindow {
  /** How many keys are remembered at most. */
  readonly capacity: number;
  readonly #keys = new Set<string>();
  // Grows slot by slot until full, then is overwritten in place: no preallocation
  // for the many services that only ever see a handful of events.
  readonly #ring: string[] = [];
  #oldest = 0;

  /** `capacity` must already be valid: EventPipeline checks it, an integer in 1..{@link MAX_DEDUP_CAPACITY}. */
  constructor(capacity: number = DEFAULT_DEDUP_CAPACITY) {
    this.capacity = capacity;
  }

  /**
   * Records `key`. Returns `true` when it was new, `false` when it is a
   * duplicate of a remembered key (the window is then left unchanged).
   */
  add(key: string): boolean {
    const keys = this.#keys;
    if (keys.has(key)) return false;
    const ring = this.#ring;
    const slot = this.#oldest;
    // Until the ring is full its next slot is empty (`undefined`, never a key),
    // and writing it grows the ring by one as a push would.
    keys.delete(ring[slot] as string);
    ring[slot] = key;
    this.#oldest = (slot + 1) % this.capacity;
    keys.add(key);
    return true;
  }
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
