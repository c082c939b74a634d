import type { RealtimeEvent } from '../protocol/schemas';

/** An app's handler of one service: receives one array per batch, in seq order. Treat it as read-only. */
export type EventHandler = (events: RealtimeEvent[]) => void;

/** What one {@link Dispatcher.dispatch} did. */
export interface DispatchResult {
  /** Events handed to the service's handlers (each counted once, however many handlers). */
  delivered: number;
  /** Events withheld by the property filter. */
  filtered: number;
}

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  /** A handler threw; the other handlers and the pipeline went on. */
  onHandlerError(error: unknown, service: string): void;
  /** The set of services with at least one handler changed (first handler came, or last went). */
  onServicesChange?(services: string[]): void;
}

/**
 * Hands a tab's events to its handlers: applies the tab's property filter,
 * shadow mode and per-service kill switch, and keeps a throwing handler from
 * hurting the others.
 *
 * Handler lists are copy-on-write: subscribe and unsubscribe (rare) build a
 * new array, so dispatch (hot) iterates the array it started with without
 * copying it. A handler added during a dispatch therefore waits for the next
 * batch; one removed is marked inactive at once and skipped.
 *
 * Its inputs come from the client, which has already checked them (service
 * names, handlers, the property filter, resolved flags): nothing is checked
 * again here.
 */
export class Dispatcher {
  // Each entry calls one subscription's handler while it is active. One per
  // subscribe call, so the same function subscribed twice is two
  // subscriptions, each removed by its own unsubscribe.
  readonly #handlers = new Map<string, readonly EventHandler[]>();
  readonly #options: DispatcherOptions;
  #propertyFilter: string | null = null;
  #shadowMode = false;
  #disabledServices: ReadonlySet<string> = new Set();

  constructor(options: DispatcherOptions) {
    this.#options = options;
  }

  /**
   * Calls `handler` with every batch of `service` from now on. Returns an
   * unsubscribe function; calling it again does nothing.
   */
  subscribe(service: string, handler: EventHandler): () => void {
    let active = true;
    // Checked per call: an earlier handler of the same batch may have unsubscribed this one.
    const call: EventHandler = (events) => {
      if (active) handler(events);
    };
    const handlers = this.#handlers;
    const current = handlers.get(service);
    handlers.set(service, [...(current ?? []), call]);
    if (!current) this.#servicesChanged();
    return () => {
      if (!active) return;
      active = false;
      // An active subscription is always in its service's list: only this function takes it out.
      const rest = handlers.get(service)!.filter((each) => each !== call);
      if (rest.length > 0) handlers.set(service, rest);
      else {
        handlers.delete(service);
        this.#servicesChanged();
      }
    };
  }

  /** Services with at least one handler. */
  services(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Whether `service` has at least one handler (no array built: it is asked per batch). */
  hasHandlers(service: string): boolean {
    return this.#handlers.has(service);
  }

  /** Shows only events of property `id` (and events with no property), or all events for `null`. */
  setPropertyFilter(id: string | null): void {
    this.#propertyFilter = id;
  }

  /** In shadow mode no handler is called (the stream still runs so SLIs are measured). */
  setShadowMode(on: boolean): void {
    this.#shadowMode = on;
  }

  /** Services whose events are not dispatched at all (per-service kill switch). Replaces the previous set. */
  setDisabledServices(names: Iterable<string>): void {
    this.#disabledServices = new Set(names);
  }

  /**
   * Gives `events` of `service` to its handlers, as one array shared by all of
   * them, filtered by the property filter. Nothing is delivered (and both
   * counts are 0) in shadow mode, for a disabled service or a service with no
   * handler. Never throws because of a handler.
   */
  dispatch(service: string, events: RealtimeEvent[]): DispatchResult {
    const calls =
      this.#shadowMode || this.#disabledServices.has(service) ? undefined : this.#handlers.get(service);
    const filter = this.#propertyFilter;
    // Nobody to call: nothing delivered, nothing filtered.
    const all = calls ? events : [];
    // The events a tab on property `filter` should see: those of that
    // property and those with none. `all` itself when nothing is removed, so
    // the common case allocates nothing.
    let batch = all;
    if (filter !== null) {
      for (let i = 0; i < all.length; i++) {
        const event = all[i]!;
        const propertyId = event.propertyId;
        if (propertyId == null || propertyId === filter) {
          if (batch !== all) batch.push(event);
        } else if (batch === all) batch = all.slice(0, i);
      }
    }
    // An empty batch (none given, all filtered out, or nobody to call) calls no handler.
    if (batch.length > 0) {
      for (const call of calls!) {
        try {
          call(batch);
        } catch (error) {
          try {
            this.#options.onHandlerError(error, service);
          } catch {
            // The error reporter itself failed; there is nobody left to tell, and
            // the remaining handlers must still run.
          }
        }
      }
    }
    return { delivered: batch.length, filtered: all.length - batch.length };
  }

  #servicesChanged(): void {
    this.#options.onServicesChange?.(this.services());
  }
}
