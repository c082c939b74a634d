import type { RealtimeEvent } from '../protocol/schemas';

/** Keys a {@link DedupWindow} remembers when no capacity is given. */
export const DEFAULT_DEDUP_CAPACITY = 4096;

/** Largest capacity accepted: far beyond any replay overlap, and still a few MB at most. */
export const MAX_DEDUP_CAPACITY = 1 << 20;

/**
 * Validates a dedup capacity once, where options come in, so the hot path
 * never has to.
 *
 * @throws RangeError naming the field and the value when it is not an integer in 1..{@link MAX_DEDUP_CAPACITY}.
 */
export function checkDedupCapacity(capacity: number, field = 'dedupCapacity'): number {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_DEDUP_CAPACITY) {
    throw new RangeError(`${field} must be an integer in 1..${MAX_DEDUP_CAPACITY}, got ${String(capacity)}`);
  }
  return capacity;
}

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
  // Grows by push until full, then is overwritten in place: no preallocation
  // for the many services that only ever see a handful of events.
  readonly #ring: string[] = [];
  #oldest = 0;

  /** @throws RangeError when `capacity` is not an integer in 1..{@link MAX_DEDUP_CAPACITY}. */
  constructor(capacity: number = DEFAULT_DEDUP_CAPACITY) {
    this.capacity = checkDedupCapacity(capacity, 'capacity');
  }

  /** Number of keys remembered now (never more than `capacity`). */
  get size(): number {
    return this.#keys.size;
  }

  /** True when `key` is among the remembered keys. Does not change the window. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Records `key`. Returns `true` when it was new, `false` when it is a
   * duplicate of a remembered key (the window is then left unchanged).
   */
  add(key: string): boolean {
    const keys = this.#keys;
    if (keys.has(key)) return false;
    const ring = this.#ring;
    if (ring.length < this.capacity) {
      ring.push(key);
    } else {
      const slot = this.#oldest;
      keys.delete(ring[slot]!);
      ring[slot] = key;
      this.#oldest = slot + 1 === this.capacity ? 0 : slot + 1;
    }
    keys.add(key);
    return true;
  }

  /** Forgets every key (after a `reset`, when seqs and ids may start over). */
  clear(): void {
    this.#keys.clear();
    this.#ring.length = 0;
    this.#oldest = 0;
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
