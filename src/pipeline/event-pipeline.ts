import { isSeq, SERVICE_NAME_PATTERN } from '../protocol/read';
import type {
  BatchFrame,
  Cursor,
  RealtimeEvent,
  ResetFrame,
  ServerFrame,
  WelcomeFrame,
} from '../protocol/schemas';
import { type BatchLane, openLane, type ServiceState } from './batch-lane';
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
  /** The lanes of the batch being applied, by service, once it has many (see #laneOf). */
  #byService: Map<string, BatchLane> | undefined;

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
      if (SERVICE_NAME_PATTERN.test(service) && isSeq(seq)) this.#start(service, seq);
    }
  }

  /** Applies a `welcome`: its cursor seeds services that have none. */
  applyWelcome(frame: WelcomeFrame): void {
    this.seed(frame.cursor);
  }

  /** Routes a frame: batch, reset and welcome change state; heartbeat and error do not concern the pipeline. */
  applyFrame(frame: ServerFrame): void {
    if (frame.type === 'batch') this.applyBatch(frame);
    else if (frame.type === 'reset') this.applyReset(frame);
    else if (frame.type === 'welcome') this.applyWelcome(frame);
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
      if (typeof seq !== 'number') this.#states.delete(service);
      else {
        const state = this.#states.get(service) ?? this.#start(service, seq);
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
    const lanes: BatchLane[] = [];
    this.#byService = undefined;
    const events = frame.events;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      this.#take(this.#laneOf(event.service, frame, lanes), event);
    }
    // Services the batch covers without events (all filtered out for this
    // subscription) still move their cursor or reveal a gap.
    for (const service in frame.after) this.#laneOf(service, frame, lanes);

    for (const each of lanes) {
      if (each.mode === 'apply' && each.upTo > each.state!.cursor) each.state!.cursor = each.upTo;
    }
    const sink = this.#sink;
    for (const { service, mode, known, dropped, duplicate, accepted, after } of lanes) {
      if (mode === 'gap') sink.onGap({ service, cursor: known, after });
      if (dropped > 0) sink.onSuppressed(service, dropped, mode === 'unsubscribed' ? mode : 'invalid');
      if (duplicate > 0) sink.onSuppressed(service, duplicate, 'duplicate');
      if (accepted.length > 0) sink.onEvents(service, accepted);
    }
  }

  /** Gives `service` a cursor, with no dedup memory yet. */
  #start(service: string, cursor: number): ServiceState {
    const state: ServiceState = { cursor, dedup: undefined };
    this.#states.set(service, state);
    return state;
  }

  /**
   * The lane of `service` in `lanes` (the batch's, in the order services
   * first appear), opened on first sight.
   */
  #laneOf(service: string, frame: BatchFrame, lanes: BatchLane[]): BatchLane {
    const byService = this.#byService;
    let lane: BatchLane | undefined;
    if (byService !== undefined) lane = byService.get(service);
    else {
      // Newest first: batches nearly always hold one service, or a few in runs.
      for (let i = lanes.length - 1; i >= 0 && lane === undefined; i--) {
        if (lanes[i]!.service === service) lane = lanes[i];
      }
    }
    if (lane === undefined) {
      lane = this.#openLane(service, frame);
      lanes.push(lane);
      byService?.set(service, lane);
      // Past a few services, a Map: an odd server must not make the lookup quadratic.
      if (lanes.length === 8) this.#byService = new Map(lanes.map((each) => [each.service, each]));
    }
    return lane;
  }

  /** Decides, once per service per batch, what the batch does to the service. */
  #openLane(service: string, frame: BatchFrame): BatchLane {
    if (this.#subscribed?.has(service) === false) return openLane(service, 'unsubscribed');
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
      return openLane(service, 'invalid');
    }
    // A new subscription starts where its first batch continues from.
    const state = this.#states.get(service) ?? this.#start(service, after);
    return openLane(service, after > state.cursor ? 'gap' : 'apply', state, after, upTo, state.cursor);
  }

  /** Decides one event's fate. The hot path: allocates nothing but Set entries (see ServiceDedup). */
  #take(lane: BatchLane, event: RealtimeEvent): void {
    const mode = lane.mode;
    if (mode !== 'apply') {
      // A gap's events are neither counted nor kept: the replay brings them again.
      if (mode !== 'gap') lane.dropped++;
      return;
    }
    const seq = event.seq;
    // Written as a negation so that a NaN seq (a frame that skipped the
    // schema) is refused rather than slipping through both comparisons.
    if (!(seq > lane.lastSeq && seq <= lane.upTo)) {
      lane.dropped++;
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
      state.dedup ??= new ServiceDedup(this.#dedupCapacity);
      if (!state.dedup.add(event.entityType, eventId)) {
        lane.duplicate++;
        return;
      }
    }
    lane.accepted.push(event);
  }
}
