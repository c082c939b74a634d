import { DedupWindow } from './dedup-window';

/**
 * The dedup memory of one service, keyed as PROTOCOL.md says
 * (`service:entityType:eventId`; the service is implied by the owner).
 *
 * Building `entityType:eventId` for every event costs a string concatenation
 * and the flattening of the result when it is hashed, which measured about as
 * much as all the Set work itself. A service nearly always carries one entity
 * type, so the first type seen gets a window keyed by the bare `eventId`, and
 * only events of other types pay for a composite key, in a second window.
 * Each window is FIFO over its own keys, so the service still remembers at
 * least its last `capacity` distinct keys, and at most `2 × capacity` in all.
 */
export class ServiceDedup {
  #primaryType: string | undefined;
  readonly #primary: DedupWindow;
  #others: DedupWindow | undefined;

  /** `capacity` must already be valid (EventPipeline checks it). */
  constructor(capacity: number) {
    this.#primary = new DedupWindow(capacity);
  }

  /** Records the key of an event; `true` when it is new, `false` for a duplicate. */
  add(entityType: string, eventId: string): boolean {
    // The first type seen becomes the primary one.
    this.#primaryType ??= entityType;
    if (entityType === this.#primaryType) return this.#primary.add(eventId);
    this.#others ??= new DedupWindow(this.#primary.capacity);
    return this.#others.add(`${entityType}:${eventId}`);
  }
}
