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
 * per service per batch (not per event), always by {@link openLane} with the
 * same keys in the same order, so the hot loop in the pipeline sees a single
 * object shape.
 */
export interface BatchLane {
  readonly service: string;
  readonly mode: LaneMode;
  /** The service's state; undefined unless `mode` is apply or gap. */
  readonly state: ServiceState | undefined;
  /** The batch's `after` for the service (NaN when unusable). */
  readonly after: number;
  /** The batch's `cursor` for the service (NaN when unusable). */
  readonly upTo: number;
  /** The service's cursor before this batch: events at or below it are duplicates. */
  readonly known: number;
  /** Highest seq met so far in this batch; starts at `after` so seq ≤ after is refused too. */
  lastSeq: number;
  /** Accepted events, in strictly increasing seq. */
  readonly accepted: RealtimeEvent[];
  /** Events refused: invalid ones (modes apply and invalid), or all of them (mode unsubscribed). */
  dropped: number;
  duplicate: number;
}

/** A lane with nothing counted yet; a lane that applies nothing needs only `service` and `mode`. */
export function openLane(
  service: string,
  mode: LaneMode,
  state?: ServiceState,
  after = NaN,
  upTo = NaN,
  known = NaN,
): BatchLane {
  return { service, mode, state, after, upTo, known, lastSeq: after, accepted: [], dropped: 0, duplicate: 0 };
}
