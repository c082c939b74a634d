/**
 * One shared call of `fn` at a time: while the promise of a call is pending,
 * `run()` returns that same promise; once it settles (either way), the next
 * `run()` starts a new call. A failure is therefore never cached.
 *
 * A synchronous throw of `fn` becomes a rejected promise and is not shared.
 */
export class SingleFlight<T> {
  readonly #fn: () => Promise<T>;
  #inFlight: Promise<T> | undefined;

  constructor(fn: () => Promise<T>) {
    this.#fn = fn;
  }

  /** The pending call, if one is in flight. */
  get inFlight(): Promise<T> | undefined {
    return this.#inFlight;
  }

  /** Joins the call in flight, or starts one. */
  run(): Promise<T> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(this.#fn());
    } catch (error) {
      return Promise.reject(error);
    }
    this.#inFlight = promise;
    // Registered before any caller can attach its own reaction, so the slot is
    // free by the time a caller's continuation runs: a caller that retries
    // straight after a failure starts a fresh call instead of getting the
    // failed promise again.
    const release = (): void => {
      if (this.#inFlight === promise) this.#inFlight = undefined;
    };
    promise.then(release, release);
    return promise;
  }
}

/**
 * Wraps `fn` so that concurrent callers share one in-flight call (see
 * {@link SingleFlight}); after it settles the next call starts a new one.
 *
 * @example
 * const fetchToken = singleFlight(() => auth.getToken());
 * await Promise.all([fetchToken(), fetchToken()]); // one getToken() call
 */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  const flight = new SingleFlight(fn);
  return () => flight.run();
}

/**
 * Keyed {@link singleFlight}: concurrent callers with the same key (compared
 * as `Map` keys) share one in-flight call of `fn(key)`; different keys run
 * independently. Settled keys are forgotten, so memory stays bounded by the
 * number of calls in flight.
 */
export function singleFlightByKey<K, T>(fn: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const inFlight = new Map<K, Promise<T>>();
  return (key) => {
    const current = inFlight.get(key);
    if (current !== undefined) return current;
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn(key));
    } catch (error) {
      return Promise.reject(error);
    }
    inFlight.set(key, promise);
    const release = (): void => {
      if (inFlight.get(key) === promise) inFlight.delete(key);
    };
    promise.then(release, release);
    return promise;
  };
}
