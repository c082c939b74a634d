import type { RealtimeEvent } from '../protocol/schemas';
import type { RealtimeState } from '../state';
import { Listeners } from '../util/emitter';

/** An app's handler of one service: receives one array per batch, in seq order. Treat it as read-only. */
export type EventHandler = (events: RealtimeEvent[]) => void;

/** What one {@link Dispatcher.dispatch} did. */
export interface DispatchResult {
  /** The batch handed to the service's handlers (the very array they got), empty when none was. */
  delivered: RealtimeEvent[];
  /** Events withheld by the property filter. */
  filtered: number;
}

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  /** A handler threw; the other handlers and the pipeline went on. */
  onHandlerError(error: unknown, service: string): void;
  /**
   * The tab's property filter and flags of now, read at each dispatch: the
   * client's state, so what is dispatched never lags behind what it shows.
   */
  getState(): Pick<RealtimeState, 'propertyFilter' | 'flags'>;
}

/**
 * Hands a tab's events to its handlers: applies the tab's property filter,
 * shadow mode and per-service kill switch, and keeps a throwing handler from
 * hurting the others.
 *
 * Each service's handlers are a {@link Listeners} set, which already has the
 * semantics a dispatch needs: one subscription per subscribe call (the same
 * function subscribed twice is two subscriptions, each removed by its own
 * unsubscribe), a handler added during a dispatch waits for the next batch,
 * one removed is skipped at once, and a throwing handler is reported (to
 * `onHandlerError`) without stopping the others. A service has an entry
 * exactly while it has at least one handler.
 *
 * Its inputs come from the client, which has already checked them (service
 * names, handlers, the property filter, resolved flags): nothing is checked
 * again here.
 */
export class Dispatcher {
  readonly #handlers = new Map<string, Listeners<RealtimeEvent[]>>();
  readonly #options: DispatcherOptions;

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /**
   * Calls `handler` with every batch of `service` from now on. Returns an
   * unsubscribe function; calling it again does nothing.
   */
  subscribe(service: string, handler: EventHandler): () => void {
    const handlers = this.#handlers;
    const listeners =
      handlers.get(service) ?? new Listeners((error) => this.#options.onHandlerError(error, service));
    // Set again when known: a Map keeps a key's first place.
    handlers.set(service, listeners);
    const off = listeners.add(handler);
    return () => {
      off();
      // The set empties only through the call that removes its last
      // subscription, which takes it out of the map at once: a repeated call
      // finds the map without it, or holding a later subscribe's new set.
      if (!listeners.size && handlers.get(service) === listeners) handlers.delete(service);
    };
  }

  /**
   * Unsubscribes every handler (the client closed). One still to be called in
   * a dispatch under way is skipped, as an unsubscribed one is.
   */
  clear(): void {
    for (const listeners of this.#handlers.values()) listeners.clear();
    this.#handlers.clear();
  }

  /** Services with at least one handler. */
  services(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Whether `service` has at least one handler (no array built: it is asked per batch). */
  hasHandlers(service: string): boolean {
    return this.#handlers.has(service);
  }

  /**
   * Gives `events` of `service` to its handlers, as one array shared by all of
   * them, filtered by the property filter. Nothing is delivered (and both
   * counts are 0) in shadow mode, for a disabled service or a service with no
   * handler. Never throws because of a handler.
   */
  dispatch(service: string, events: RealtimeEvent[]): DispatchResult {
    const { propertyFilter: filter, flags } = this.#options.getState();
    const listeners =
      flags.shadowMode || flags.disabledServices.includes(service) ? undefined : this.#handlers.get(service);
    // Nobody to call: nothing delivered, nothing filtered.
    const all = listeners ? events : [];
    // The events a tab on property `filter` should see: those of that
    // property and those with none. `all` itself when nothing is removed, so
    // handlers get the very array the pipeline accepted.
    let batch = all;
    if (filter !== null) {
      const kept = all.filter(({ propertyId }) => propertyId == null || propertyId === filter);
      if (kept.length < all.length) batch = kept;
    }
    // An empty batch (none given, all filtered out, or nobody to call) calls no handler.
    if (batch.length) listeners!.emit(batch);
    return { delivered: batch, filtered: all.length - batch.length };
  }
}
