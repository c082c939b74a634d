/** Options of {@link FakeLockManager.request}, as `navigator.locks.request` takes them. */
export interface FakeLockOptions {
  /** Only `'exclusive'` is modelled; `'shared'` is refused. */
  mode?: 'exclusive' | 'shared';
  /** Grant at once or call the callback with `null`; never wait. */
  ifAvailable?: boolean;
  /** Not modelled; refused. */
  steal?: boolean;
  /** Aborting it takes a pending request out of the queue (the request rejects with the reason). */
  signal?: AbortSignal;
}

/** The lock a callback is granted. */
export interface FakeLock {
  readonly name: string;
  readonly mode: 'exclusive';
}

/** What {@link FakeLockManager.query} reports, like `navigator.locks.query()`. */
export interface FakeLockSnapshot {
  held: FakeLock[];
  pending: FakeLock[];
}

type Callback<T> = (lock: FakeLock | null) => T | PromiseLike<T>;

interface Waiter {
  grant: () => void;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The request was aborted.', 'AbortError');
}

/**
 * Exclusive Web Locks (`navigator.locks`) in memory, for several "tabs" in one
 * test: give the same instance to every tab's `platform.locks`.
 *
 * Semantics of the real lock manager for exclusive locks: one holder per name;
 * requests are granted in order; the lock is held until the callback's promise
 * settles, and the request settles with it (value or rejection); a pending
 * request whose `signal` aborts leaves the queue and rejects with the abort
 * reason (at once if the signal was already aborted); `ifAvailable` calls the
 * callback with `null` instead of waiting. Requests a browser refuses are
 * refused alike: an unknown `mode` (TypeError), a name starting with `-`, and
 * `signal` together with `ifAvailable` or `steal` (NotSupportedError).
 * Callbacks run asynchronously, in a microtask, so this works under
 * `vi.useFakeTimers()`.
 */
export class FakeLockManager {
  readonly #held = new Set<string>();
  readonly #queues = new Map<string, Waiter[]>();

  request<T>(name: string, callback: Callback<T>): Promise<T>;
  request<T>(name: string, options: FakeLockOptions, callback: Callback<T>): Promise<T>;
  request<T>(name: string, a: FakeLockOptions | Callback<T>, b?: Callback<T>): Promise<T> {
    const options: FakeLockOptions = typeof a === 'function' ? {} : a;
    const callback = (typeof a === 'function' ? a : b) as Callback<T> | undefined;
    if (typeof callback !== 'function') {
      return Promise.reject(new TypeError('FakeLockManager.request: the callback must be a function'));
    }
    // What navigator.locks itself refuses (Web Locks request() steps, and what
    // Chromium does), so a test cannot pass with a request no browser grants.
    const mode: unknown = options.mode;
    if (mode !== undefined && mode !== 'exclusive' && mode !== 'shared') {
      return Promise.reject(new TypeError(`FakeLockManager.request: mode ${String(mode)} is not a LockMode`));
    }
    if (String(name).startsWith('-')) {
      return Promise.reject(
        new DOMException('Lock names starting with "-" are reserved', 'NotSupportedError'),
      );
    }
    if (options.signal !== undefined && (options.ifAvailable || options.steal)) {
      return Promise.reject(
        new DOMException(
          'The signal and ifAvailable/steal options cannot be used together',
          'NotSupportedError',
        ),
      );
    }
    if (options.mode === 'shared' || options.steal) {
      return Promise.reject(
        new DOMException('FakeLockManager models exclusive locks without steal only', 'NotSupportedError'),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const lock: FakeLock = { name, mode: 'exclusive' };
    const run = (granted: FakeLock | null): Promise<T> =>
      // A microtask, like the browser's task; a callback that throws rejects the request.
      new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => callback(granted));

    if (options.ifAvailable && (this.#held.has(name) || (this.#queues.get(name)?.length ?? 0) > 0)) {
      return run(null);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const queue = this.#queues.get(name) ?? [];
        const index = queue.indexOf(waiter);
        if (index < 0) return; // granted already: aborting no longer matters
        queue.splice(index, 1);
        reject(abortReason(signal as AbortSignal));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#held.add(name);
          // Released before the request settles, as in browsers: whoever
          // awaits the request finds the lock free (or granted to the next).
          const release = () => {
            this.#held.delete(name);
            this.#grantNext(name);
          };
          run(lock).then(
            (value) => {
              release();
              resolve(value);
            },
            (error: unknown) => {
              release();
              reject(error);
            },
          );
        },
      };
      signal?.addEventListener('abort', onAbort);
      const queue = this.#queues.get(name) ?? [];
      queue.push(waiter);
      this.#queues.set(name, queue);
      this.#grantNext(name);
    });
  }

  /** Held and pending locks, like `navigator.locks.query()`. */
  async query(): Promise<FakeLockSnapshot> {
    const held = [...this.#held].map((name): FakeLock => ({ name, mode: 'exclusive' }));
    const pending: FakeLock[] = [];
    for (const [name, queue] of this.#queues) {
      for (let i = 0; i < queue.length; i++) pending.push({ name, mode: 'exclusive' });
    }
    return { held, pending };
  }

  /** Whether a lock of this name is held right now (synchronous, for assertions). */
  isHeld(name: string): boolean {
    return this.#held.has(name);
  }

  #grantNext(name: string): void {
    if (this.#held.has(name)) return;
    const queue = this.#queues.get(name);
    const next = queue?.shift();
    if (queue?.length === 0) this.#queues.delete(name);
    next?.grant();
  }
}
