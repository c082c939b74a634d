import { isSeq, SERVICE_NAME_PATTERN } from '../protocol/read';
import type {
  BatchFrame,
  Cursor,
  RealtimeEvent,
  ResetFrame,
  ServerFrame,
  WelcomeFrame,
} from '../protocol/schemas';
import { BatchLane, LaneIndex, type LaneMode, type ServiceState } from './batch-lane';
import { checkDedupCapacity, DEFAULT_DEDUP_CAPACITY } from './dedup-window';
import { ServiceDedup } from './service-dedup';

/** A batch continued from further than the service's cursor: events are missing. */
export interface PipelineGap {
  service: string;
  /** The pipeline's cursor of the service (unchanged by the batch). */
  cursor: number;
  /** The batch's `after` of the service. */
  after: number;
}

/** The server could not replay: these services skip to `cursor` and must re-fetch. */
export interface PipelineResync {
  services: string[];
  cursor: Cursor;
  reason: string;
}

/** Why events were not delivered. */
export type SuppressReason = 'duplicate' | 'invalid' | 'unsubscribed';

/** Where an {@link EventPipeline} sends what it decided. Callbacks must not throw. */
export interface PipelineSink {
  /** Accepted events of one service: new, strictly increasing seq, each once. Never empty. */
  onEvents(service: string, events: RealtimeEvent[]): void;
  /** A batch of `service` was not applied because it skips events; reconnect or re-poll with the cursor. */
  onGap(gap: PipelineGap): void;
  /** A `reset` moved cursors; the app must re-fetch these services. */
  onResync(reset: PipelineResync): void;
  /** `count` events of `service` in one batch were dropped for `reason`. */
  onSuppressed(service: string, count: number, reason: SuppressReason): void;
}

/** Options of {@link EventPipeline}. */
export interface EventPipelineOptions {
  /**
   * Dedup keys remembered per service (at least the last this many; twice
   * that at most, when a service mixes entity types); default 4096, an
   * integer in 1..2^20.
   */
  dedupCapacity?: number;
}

/**
 * Turns server frames into exactly-once, in-order event batches per service:
 * keeps the cursor of every service, detects gaps, drops replay overlap and
 * duplicates, and applies `reset`s. It holds no timers and never throws on
 * frame content; every decision goes to the {@link PipelineSink}.
 *
 * Memory is bounded by services × 2 × `dedupCapacity` keys.
 */
export class EventPipeline {
  readonly #sink: PipelineSink;
  readonly #dedupCapacity: number;
  /** A service has an entry exactly while it has a cursor. */
  readonly #states = new Map<string, ServiceState>();
  /** `null` until `setServices` is first called: every service is accepted. */
  #subscribed: Set<string> | null = null;

  /** @throws RangeError when `options.dedupCapacity` is not an integer in 1..2^20. */
  constructor(sink: PipelineSink, options: EventPipelineOptions = {}) {
    this.#sink = sink;
    this.#dedupCapacity = checkDedupCapacity(options.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY);
  }

  /**
   * Sets the services whose events are wanted; the others' events are
   * suppressed as `unsubscribed` and their cursors left alone. Cursors of
   * services dropped here are kept, since a tab may subscribe again and then
   * needs the replay from where it stopped; {@link forget} frees them.
   */
  setServices(services: Iterable<string>): void {
    this.#subscribed = new Set(services);
  }

  /** Drops the cursor and dedup memory of a service. */
  forget(service: string): void {
    this.#states.delete(service);
  }

  /** A fresh copy of the cursor of every service that has one. */
  getCursor(): Cursor {
    const cursor: Cursor = {};
    // Every name in `states` passed SERVICE_NAME_PATTERN, so none is `__proto__`,
    // whose assignment would set the prototype instead of a key.
    for (const [service, state] of this.#states) cursor[service] = state.cursor;
    return cursor;
  }

  /**
   * Sets the cursor of every service in `cursor` that has none yet (welcome,
   * persisted cursor, `update-services` answer). Known cursors are never
   * moved: the pipeline's own is the truth, and moving it back would replay
   * and moving it forward would skip. Entries that are not a valid service
   * name and seq are ignored, so a stale or corrupt persisted value cannot
   * poison the state.
   */
  seed(cursor: Cursor): void {
    for (const service of Object.keys(cursor)) {
      if (this.#states.has(service)) continue;
      const seq = cursor[service];
      if (!SERVICE_NAME_PATTERN.test(service) || !isSeq(seq)) continue;
      this.#states.set(service, { cursor: seq as number, dedup: undefined });
    }
  }

  /** Applies a `welcome`: its cursor seeds services that have none. */
  applyWelcome(frame: WelcomeFrame): void {
    this.seed(frame.cursor);
  }

  /** Routes a frame: batch, reset and welcome change state; heartbeat and error do not concern the pipeline. */
  applyFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'batch':
        this.applyBatch(frame);
        return;
      case 'reset':
        this.applyReset(frame);
        return;
      case 'welcome':
        this.applyWelcome(frame);
        return;
      default:
        return;
    }
  }

  /**
   * Applies a `reset`: each listed service jumps to the reset's cursor (or
   * loses its cursor when the reset gives none, to start at the next batch)
   * and its dedup memory is cleared, because the server's epoch may have
   * changed and seqs and ids may start over. Then the sink hears `onResync`.
   */
  applyReset(frame: ResetFrame): void {
    const cursor = frame.cursor;
    for (const service of frame.services) {
      const seq = cursor[service];
      if (!SERVICE_NAME_PATTERN.test(service)) continue;
      if (typeof seq !== 'number') {
        this.#states.delete(service);
        continue;
      }
      const state = this.#states.get(service);
      if (state === undefined) {
        this.#states.set(service, { cursor: seq, dedup: undefined });
      } else {
        state.cursor = seq;
        state.dedup?.clear();
      }
    }
    this.#sink.onResync({ services: frame.services, cursor, reason: frame.reason });
  }

  /**
   * Applies a `batch` (see PROTOCOL.md "Gaps and replay"), per service it
   * covers: no cursor yet → start at `after`; `after` = cursor → apply;
   * `after` > cursor → gap, apply nothing of that service; `after` < cursor
   * → overlap, seqs up to the cursor are duplicates. Events out of order or
   * outside (after, cursor] are invalid; events whose dedup key was seen are
   * duplicates. Cursors move to the batch's cursor before the sink hears of
   * the accepted events.
   */
  applyBatch(frame: BatchFrame): void {
    const events = frame.events;
    const index = new LaneIndex();
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      let lane = index.get(event.service);
      if (lane === undefined) {
        lane = this.#openLane(event.service, frame);
        index.add(lane);
      }
      this.#take(lane, event);
    }
    // Services the batch covers without events (all filtered out for this
    // subscription) still move their cursor or reveal a gap.
    const after = frame.after;
    for (const service in after) {
      if (index.get(service) === undefined) index.add(this.#openLane(service, frame));
    }

    const lanes = index.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      if (lane.mode === 'apply' && lane.upTo > lane.state!.cursor) lane.state!.cursor = lane.upTo;
    }
    const sink = this.#sink;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const service = lane.service;
      if (lane.mode === 'gap') sink.onGap({ service, cursor: lane.known, after: lane.after });
      if (lane.invalid > 0) sink.onSuppressed(service, lane.invalid, 'invalid');
      if (lane.duplicate > 0) sink.onSuppressed(service, lane.duplicate, 'duplicate');
      if (lane.unsubscribed > 0) sink.onSuppressed(service, lane.unsubscribed, 'unsubscribed');
      if (lane.accepted.length > 0) sink.onEvents(service, lane.accepted);
    }
  }

  /** Decides, once per service per batch, what the batch does to the service. */
  #openLane(service: string, frame: BatchFrame): BatchLane {
    if (this.#subscribed !== null && !this.#subscribed.has(service)) {
      return new BatchLane(service, 'unsubscribed', undefined, Number.NaN, Number.NaN, Number.NaN);
    }
    // Frames normally passed the schema, but a typed frame that did not must
    // not smuggle `__proto__` into the state either: the name is checked once
    // per service per batch. `typeof` rather than `in`, so that a name like
    // `toString` does not find Object.prototype's member.
    const after = frame.after[service];
    const upTo = frame.cursor[service];
    if (
      typeof after !== 'number' ||
      typeof upTo !== 'number' ||
      !(after <= upTo) ||
      !SERVICE_NAME_PATTERN.test(service)
    ) {
      return new BatchLane(service, 'invalid', undefined, Number.NaN, Number.NaN, Number.NaN);
    }
    let state = this.#states.get(service);
    if (state === undefined) {
      // A new subscription starts where its first batch continues from.
      state = { cursor: after, dedup: undefined };
      this.#states.set(service, state);
    }
    const mode: LaneMode = after > state.cursor ? 'gap' : 'apply';
    return new BatchLane(service, mode, state, after, upTo, state.cursor);
  }

  /** Decides one event's fate. The hot path: allocates nothing but Set entries (see ServiceDedup). */
  #take(lane: BatchLane, event: RealtimeEvent): void {
    const mode = lane.mode;
    if (mode !== 'apply') {
      if (mode === 'unsubscribed') lane.unsubscribed++;
      else if (mode === 'invalid') lane.invalid++;
      // A gap's events are neither counted nor kept: the replay brings them again.
      return;
    }
    const seq = event.seq;
    // Written as a negation so that a NaN seq (a frame that skipped the
    // schema) is refused rather than slipping through both comparisons.
    if (!(seq > lane.lastSeq && seq <= lane.upTo)) {
      lane.invalid++;
      return;
    }
    lane.lastSeq = seq;
    if (seq <= lane.known) {
      lane.duplicate++;
      return;
    }
    const eventId = event.eventId;
    // Without an eventId the key is `service:seq:<seq>`, and a seq above the
    // cursor was never accepted since the last reset cleared the memory: the
    // seq check has already decided, so such keys are not stored at all.
    if (eventId !== undefined) {
      const state = lane.state!;
      const dedup = state.dedup ?? this.#openDedup(state);
      if (!dedup.add(event.entityType, eventId)) {
        lane.duplicate++;
        return;
      }
    }
    lane.accepted.push(event);
  }

  #openDedup(state: ServiceState): ServiceDedup {
    const dedup = new ServiceDedup(this.#dedupCapacity);
    state.dedup = dedup;
    return dedup;
  }
}
