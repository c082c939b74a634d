import { isSeq, isServiceName } from '../protocol/read';
import type { BatchFrame, Cursor, RealtimeEvent, ServerFrame } from '../protocol/schemas';
import { type ServiceDedup, serviceDedup } from './service-dedup';

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

/**
 * Services out of the union whose state (cursor, dedup memory) is kept: a
 * service subscribed again (a document reopened) resumes from its cursor,
 * deduplicated, and is replayed what it missed. Past these, the state of the
 * one that left first goes: a page subscribing one service per document it
 * opens kept a dedup window (thousands of keys) for every one, for good.
 */
export const LEFT_SERVICES_MAX = 64;

/** A service's lasting state in the pipeline: it exists exactly while the service has a cursor. */
interface ServiceState {
  /** The last seq accounted for. */
  cursor: number;
  /** Created on the first event that carries an `eventId`. */
  dedup?: ServiceDedup;
}

/**
 * Turns server frames into exactly-once, in-order event batches per service:
 * keeps the cursor of every service, detects gaps, drops replay overlap and
 * duplicates, and applies `reset`s. It holds no timers and never throws on
 * frame content; every decision goes to the {@link PipelineSink}.
 *
 * Memory is bounded by (services subscribed + {@link LEFT_SERVICES_MAX}) ×
 * 2 × `dedupCapacity` keys.
 */
export class EventPipeline {
  readonly #sink: PipelineSink;
  readonly #dedupCapacity: number;
  /** A service has an entry exactly while it has a cursor. */
  readonly #states = new Map<string, ServiceState>();
  /** `null` until `setServices` is first called: every service is accepted. */
  #subscribed: Set<string> | null = null;
  /** Services out of the union with state kept, in the order they left (see LEFT_SERVICES_MAX). */
  readonly #left = new Set<string>();

  /**
   * `dedupCapacity`: dedup keys remembered per service (at least the last
   * this many; twice that at most, when a service mixes entity types). It
   * comes resolved and checked by createRealtime (`dedupWindow`, default
   * 4096, an integer in 16..2^20), so it has no default here.
   */
  constructor(sink: PipelineSink, dedupCapacity: number) {
    this.#sink = sink;
    this.#dedupCapacity = dedupCapacity;
  }

  /**
   * Sets the services whose events are wanted; the others' events are
   * suppressed as `unsubscribed` and their cursors left alone. The state of
   * the last {@link LEFT_SERVICES_MAX} services out of the union is kept,
   * since a tab may subscribe again and then needs the replay from where it
   * stopped; older ones are forgotten (subscribed again, they start anew, at
   * the server's head). `alike`: what the caller keeps per service (the
   * client's epochs), whose services leave and are forgotten alike.
   */
  setServices(services: Iterable<string>, alike: Record<string, unknown>): void {
    const subscribed = new Set(services);
    const left = this.#left;
    this.#subscribed = subscribed;
    for (const service of subscribed) left.delete(service);
    // Added once: a service keeps the place of when it left.
    for (const service of [...this.#states.keys(), ...Object.keys(alike)])
      subscribed.has(service) || left.add(service);
    for (const service of [...left].slice(0, -LEFT_SERVICES_MAX)) {
      left.delete(service);
      this.#states.delete(service);
      delete alike[service];
    }
  }

  /** Drops the cursor and dedup memory of a service. */
  forget(service: string): void {
    this.#states.delete(service);
  }

  /**
   * A fresh copy of the cursor of every service that has one; `subscribed`:
   * of the services of the last {@link setServices} only. What goes to the
   * server takes that: the cursors kept of every service a long-lived page
   * ever had made each connect, and each long-poll's URL, grow with every
   * service it visited, for nothing (the server replays subscribed ones).
   */
  getCursor(subscribed?: boolean): Cursor {
    const cursor: Cursor = {};
    // Every name in `states` passed SERVICE_NAME_PATTERN, so none is `__proto__`,
    // whose assignment would set the prototype instead of a key.
    for (const [service, state] of this.#states)
      if (!subscribed || this.#subscribed?.has(service) !== false) cursor[service] = state.cursor;
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
      const seq = cursor[service];
      if (!this.#states.has(service) && isServiceName(service) && isSeq(seq)) this.#start(service, seq);
    }
  }

  /**
   * Applies a frame; heartbeat and error do not concern the pipeline.
   *
   * - `batch` (see PROTOCOL.md "Gaps and replay"), per service it covers: no
   *   cursor yet → start at `after`; `after` = cursor → apply; `after` >
   *   cursor → gap, apply nothing of that service; `after` < cursor →
   *   overlap, seqs up to the cursor are duplicates. Events out of order or
   *   outside (after, cursor] are invalid; events whose dedup key was seen
   *   are duplicates. Cursors move to the batch's cursor before the sink
   *   hears of the accepted events.
   * - `reset`: each listed service jumps to the reset's cursor (or loses its
   *   cursor when the reset gives none, to start at the next batch) and its
   *   dedup memory is cleared, because the server's epoch may have changed
   *   and seqs and ids may start over. Then the sink hears `onResync`.
   * - `welcome`: its cursor seeds services that have none.
   */
  applyFrame(frame: ServerFrame): void {
    if (frame.type === 'batch') {
      // The batch's events by service, in the order services first appear.
      const groups = new Map<string, RealtimeEvent[]>();
      for (const event of frame.events) {
        const group = groups.get(event.service);
        if (group) group.push(event);
        else groups.set(event.service, [event]);
      }
      // Services the batch covers without events (all filtered out for this
      // subscription) still move their cursor or reveal a gap.
      for (const service in frame.after) if (!groups.has(service)) groups.set(service, []);
      // Every cursor moves before the sink hears anything.
      for (const report of Array.from(groups, (group) => this.#applyService(...group, frame))) report();
    } else if (frame.type === 'reset') {
      const cursor = frame.cursor;
      for (const service of frame.services) {
        const seq = cursor[service];
        if (!isServiceName(service)) continue;
        // A fresh state: the reset's cursor, and no dedup memory.
        if (typeof seq === 'number') this.#start(service, seq);
        else this.#states.delete(service);
      }
      this.#sink.onResync({ services: frame.services, cursor, reason: frame.reason });
    } else if (frame.type === 'welcome') this.seed(frame.cursor);
  }

  /** Gives `service` a cursor, with no dedup memory yet. */
  #start(service: string, cursor: number): ServiceState {
    const state: ServiceState = { cursor };
    this.#states.set(service, state);
    return state;
  }

  /**
   * Applies the events of one service in a batch, all of that service's
   * events in it, and moves its cursor. Returns what the sink must hear of it.
   * The hot path: allocates nothing per event but Set entries (see ServiceDedup).
   */
  #applyService(service: string, events: RealtimeEvent[], frame: BatchFrame): () => void {
    const sink = this.#sink;
    // Frames normally passed the schema, but a typed frame that did not must
    // not smuggle `__proto__` into the state either: the name is checked once
    // per service per batch. `typeof` rather than `in`, so that a name like
    // `toString` does not find Object.prototype's member.
    const after = frame.after[service];
    const upTo = frame.cursor[service];
    const accepted: RealtimeEvent[] = [];
    // Events refused: all of them unless the batch applies to the service.
    let dropped = events.length;
    let duplicate = 0;
    let reason: SuppressReason = 'unsubscribed';
    let gap: PipelineGap | undefined;
    if (this.#subscribed?.has(service) !== false) {
      reason = 'invalid';
      if (typeof after === 'number' && typeof upTo === 'number' && after <= upTo && isServiceName(service)) {
        // A new subscription starts where its first batch continues from.
        const state = this.#states.get(service) ?? this.#start(service, after);
        // Events at or below the cursor were accounted for before this batch.
        const known = state.cursor;
        dropped = 0;
        // A gap's events are neither counted nor kept: the replay brings them again.
        if (after > known) gap = { service, cursor: known, after };
        else {
          // Highest seq met so far; starting at `after` refuses seq ≤ after too.
          let lastSeq = after;
          for (const event of events) {
            const seq = event.seq;
            const eventId = event.eventId;
            // Written as a negation so that a NaN seq (a frame that skipped the
            // schema) is refused rather than slipping through both comparisons.
            if (!(seq > lastSeq && seq <= upTo)) {
              dropped++;
              continue;
            }
            lastSeq = seq;
            let isNew = seq > known;
            // Without an eventId the key is `service:seq:<seq>`, and a seq above
            // the cursor was never accepted since the last reset cleared the
            // memory: the seq check has already decided, so such keys are not
            // stored at all.
            if (isNew && eventId !== undefined) {
              state.dedup ??= serviceDedup(this.#dedupCapacity);
              isNew = state.dedup(event.entityType, eventId);
            }
            if (isNew) accepted.push(event);
            else duplicate++;
          }
          if (upTo > known) state.cursor = upTo;
        }
      }
    }
    return () => {
      if (gap) sink.onGap(gap);
      if (dropped) sink.onSuppressed(service, dropped, reason);
      if (duplicate) sink.onSuppressed(service, duplicate, 'duplicate');
      if (accepted.length) sink.onEvents(service, accepted);
    };
  }
}
