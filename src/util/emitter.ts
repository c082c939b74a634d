/** A function called with every emitted value. */
export type Listener<T> = (value: T) => void;

/** Receives what a listener threw. */
export type ListenerErrorHandler = (error: unknown) => void;

/**
 * Hands a listener's exception to the platform the way `EventTarget` does:
 * `reportError` in browsers (the page's `error` event and the console see it,
 * the emitting code keeps running), `console.error` where that is missing
 * (Node). Never rethrown: one app handler's bug must not stop the library.
 */
export const reportListenerError: ListenerErrorHandler = (error) => {
  const { reportError } = globalThis as { reportError?: (error: unknown) => void };
  if (typeof reportError === 'function') reportError(error);
  else console.error(error);
};

/**
 * One subscription: its own object, so adding the same function twice makes
 * two. Its `fn` becomes {@link noop} when it is removed, so an emit under
 * way calls nothing for it.
 */
interface Registration<T> {
  fn: Listener<T>;
}

/** Does nothing: the listener of a removed subscription, among others. */
export const noop = (): void => {};

/**
 * The tiny typed listener set behind every `onSomething(listener)` of the
 * policies.
 *
 * - `add` returns the unsubscribe function; calling it twice is harmless.
 * - Adding the same function twice registers it twice (each `add` is its own
 *   subscription), as a listener that was added by two owners must survive
 *   one of them unsubscribing.
 * - A listener that throws does not stop the others: the error goes to the
 *   error handler ({@link reportListenerError} by default).
 * - During `emit`, a listener added is first called on the next `emit`, and a
 *   listener removed (by an earlier listener) is no longer called, as with
 *   `EventTarget`.
 */
export class Listeners<T> {
  // Copy-on-write: add and remove (rare) build a new array, so an emit (hot:
  // every dispatched batch, every relayed frame) walks the array it started
  // with and allocates nothing. That array is also why a listener added
  // during an emit waits for the next one.
  #registrations: readonly Registration<T>[] = [];
  readonly #onError: ListenerErrorHandler;

  /** @param onError receives what a listener threw; defaults to {@link reportListenerError}. */
  constructor(onError: ListenerErrorHandler = reportListenerError) {
    this.#onError = onError;
  }

  /** How many subscriptions are active. */
  get size(): number {
    return this.#registrations.length;
  }

  /** Subscribes `fn`; returns the function that unsubscribes it. */
  add(fn: Listener<T>): () => void {
    const registration: Registration<T> = { fn };
    this.#registrations = [...this.#registrations, registration];
    // A second call filters out nothing: harmless.
    return () => {
      registration.fn = noop;
      this.#registrations = this.#registrations.filter((each) => each !== registration);
    };
  }

  /** Calls every active listener with `value`, in subscription order. */
  emit(value: T): void {
    // A registration removed by an earlier listener of this emit (or by
    // `clear()`) calls `noop`, which does nothing.
    for (const registration of this.#registrations) {
      try {
        registration.fn(value);
      } catch (error) {
        try {
          this.#onError(error);
        } catch {
          // The error handler itself failed: there is no one left to tell,
          // and the remaining listeners must still run.
        }
      }
    }
  }

  /** Unsubscribes every listener. */
  clear(): void {
    for (const registration of this.#registrations) registration.fn = noop;
    this.#registrations = [];
  }
}
