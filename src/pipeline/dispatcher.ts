import { isServiceName } from '../protocol/read';
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

// One per subscribe call, so the same function subscribed twice is two
// subscriptions, each removed by its own unsubscribe.
interface Subscription {
  readonly handler: EventHandler;
  active: boolean;
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
 */
export class Dispatcher {
  readonly #handlers = new Map<string, readonly Subscription[]>();
  readonly #onHandlerError: DispatcherOptions['onHandlerError'];
  readonly #onServicesChange: DispatcherOptions['onServicesChange'];
  #propertyFilter: string | null = null;
  #shadowMode = false;
  #disabledServices: ReadonlySet<string> = new Set();

  /** @throws TypeError when `onHandlerError` (or a given `onServicesChange`) is not a function. */
  constructor(options: DispatcherOptions) {
    if (typeof options?.onHandlerError !== 'function') {
      throw new TypeError('onHandlerError must be a function');
    }
    if (options.onServicesChange !== undefined && typeof options.onServicesChange !== 'function') {
      throw new TypeError('onServicesChange must be a function when given');
    }
    this.#onHandlerError = options.onHandlerError;
    this.#onServicesChange = options.onServicesChange;
  }

  /**
   * Calls `handler` with every batch of `service` from now on. Returns an
   * unsubscribe function; calling it again does nothing.
   *
   * @throws RangeError when `service` is not a valid service name; TypeError when `handler` is not a function.
   */
  subscribe(service: string, handler: EventHandler): () => void {
    // The client checks names first, with the message apps see; this is the backstop.
    if (!isServiceName(service))
      throw new RangeError(`service must be a service name, got ${String(service)}`);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    const subscription: Subscription = { handler, active: true };
    const handlers = this.#handlers;
    const current = handlers.get(service);
    handlers.set(service, [...(current ?? []), subscription]);
    if (current === undefined) this.#servicesChanged();
    return () => {
      if (!subscription.active) return;
      subscription.active = false;
      // An active subscription is always in its service's list: only this function takes it out.
      const rest = handlers.get(service)!.filter((each) => each !== subscription);
      if (rest.length > 0) {
        handlers.set(service, rest);
      } else {
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

  /** The property this tab shows, or `null` for all. */
  getPropertyFilter(): string | null {
    return this.#propertyFilter;
  }

  /**
   * Shows only events of property `id` (and events with no property), or all
   * events for `null`.
   *
   * @throws TypeError when `id` is neither a string nor null.
   */
  setPropertyFilter(id: string | null): void {
    if (id !== null && typeof id !== 'string')
      throw new TypeError(`propertyFilter must be a string or null, got ${typeof id}`);
    this.#propertyFilter = id;
  }

  /** In shadow mode no handler is called (the stream still runs so SLIs are measured). */
  setShadowMode(on: boolean): void {
    this.#shadowMode = on === true;
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
    const subscriptions = this.#handlers.get(service);
    if (this.#shadowMode || subscriptions === undefined || this.#disabledServices.has(service)) {
      return { delivered: 0, filtered: 0 };
    }
    const filter = this.#propertyFilter;
    const batch = filter === null ? events : withoutOtherProperties(events, filter);
    // An empty batch (none given, or all filtered out) calls no handler.
    if (batch.length > 0) {
      for (const subscription of subscriptions) {
        // Checked per call: an earlier handler may have unsubscribed this one.
        if (!subscription.active) continue;
        try {
          subscription.handler(batch);
        } catch (error) {
          try {
            this.#onHandlerError(error, service);
          } catch {
            // The error reporter itself failed; there is nobody left to tell, and
            // the remaining handlers must still run.
          }
        }
      }
    }
    return { delivered: batch.length, filtered: events.length - batch.length };
  }

  #servicesChanged(): void {
    const listener = this.#onServicesChange;
    listener?.(this.services());
  }
}

/**
 * The events a tab on property `filter` should see: those of that property and
 * those with none. Returns `events` itself when nothing is removed, so the
 * common case allocates nothing.
 */
function withoutOtherProperties(events: RealtimeEvent[], filter: string): RealtimeEvent[] {
  let kept: RealtimeEvent[] | undefined;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const propertyId = event.propertyId;
    const keep = propertyId === undefined || propertyId === null || propertyId === filter;
    if (kept !== undefined) {
      if (keep) kept.push(event);
    } else if (!keep) {
      kept = events.slice(0, i);
    }
  }
  return kept ?? events;
}
