import type { RealtimeEvent } from '../protocol/schemas';
import type { ServiceDedup } from './service-dedup';

/**
 * What a batch does to one service, decided once per service per batch:
 * `apply` (after equals or is behind the cursor, or the service is new),
 * `gap` (after is ahead of the cursor: apply nothing, report it),
 * `unsubscribed` (not in the subscribed set), `invalid` (no usable
 * `after`/`cursor` for the service in the batch).
 */
export type LaneMode = 'apply' | 'gap' | 'unsubscribed' | 'invalid';

/** A service's lasting state in the pipeline: it exists exactly while the service has a cursor. */
export interface ServiceState {
  /** The last seq accounted for. */
  cursor: number;
  /** Created on the first event that carries an `eventId`. */
  dedup: ServiceDedup | undefined;
}

/**
 * The working state of one service while one batch is applied. One is made
 * per service per batch (not per event), and it is plain data so the hot loop
 * in the pipeline stays monomorphic.
 */
export class BatchLane {
  /** Accepted events, in strictly increasing seq. */
  readonly accepted: RealtimeEvent[] = [];
  duplicate = 0;
  invalid = 0;
  unsubscribed = 0;
  /** Highest seq met so far in this batch; starts at `after` so seq ≤ after is refused too. */
  lastSeq: number;

  constructor(
    readonly service: string,
    readonly mode: LaneMode,
    /** The service's state; undefined unless `mode` is apply or gap. */
    readonly state: ServiceState | undefined,
    /** The batch's `after` for the service (NaN when unusable). */
    readonly after: number,
    /** The batch's `cursor` for the service (NaN when unusable). */
    readonly upTo: number,
    /** The service's cursor before this batch: events at or below it are duplicates. */
    readonly known: number,
  ) {
    this.lastSeq = after;
  }
}

/**
 * Finds the lane of a service within one batch. Batches nearly always hold one
 * service, or a few in runs, so the last lane is checked first and a short
 * array is scanned; a Map is built only if a batch spans many services, so an
 * odd server cannot make the lookup quadratic.
 */
export class LaneIndex {
  readonly lanes: BatchLane[] = [];
  #last: BatchLane | undefined;
  #byService: Map<string, BatchLane> | undefined;

  get(service: string): BatchLane | undefined {
    const last = this.#last;
    if (last !== undefined && last.service === service) return last;
    let found: BatchLane | undefined;
    if (this.#byService !== undefined) {
      found = this.#byService.get(service);
    } else {
      const lanes = this.lanes;
      for (let i = 0; i < lanes.length; i++) {
        if (lanes[i]!.service === service) {
          found = lanes[i];
          break;
        }
      }
    }
    if (found !== undefined) this.#last = found;
    return found;
  }

  add(lane: BatchLane): void {
    this.lanes.push(lane);
    this.#last = lane;
    if (this.#byService !== undefined) {
      this.#byService.set(lane.service, lane);
    } else if (this.lanes.length > 8) {
      this.#byService = new Map();
      for (const each of this.lanes) this.#byService.set(each.service, each);
    }
  }
}
