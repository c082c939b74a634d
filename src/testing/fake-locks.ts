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

/** What one tab of a fake browser holds and waits for, so its crash can drop it all. */
interface Owner {
  dead: boolean;
  /** Each takes one of its pending requests out of the queue. */
  readonly waiting: Set<() => void>;
  /** Each frees one of the locks it holds. */
  readonly holding: Set<() => void>;
}

/** One tab's door to a {@link FakeLockManager}, and the crash that frees what it holds. */
export interface LockClient {
  readonly locks: Pick<FakeLockManager, 'request' | 'query'>;
  /**
   * As a browser does for a dead tab: its pending requests leave the queue,
   * the locks it holds are freed at once, and none of its callbacks runs or
   * settles its request afterwards.
   */
  crash(): void;
}

let clientOf: (manager: FakeLockManager) => LockClient;

/** A tab's own view of `manager` (for the fake browser; not exported from `tabwire/testing`). */
export function lockClient(manager: FakeLockManager): LockClient {
  return clientOf(manager);
}

/** A dead tab's promise: nothing of its code may run again. */
const never = <T>(): Promise<T> => new Promise<T>(() => {});

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

  static {
    clientOf = (manager) => {
      const owner: Owner = { dead: false, waiting: new Set(), holding: new Set() };
      return {
        locks: {
          request: ((name: string, a: FakeLockOptions | Callback<unknown>, b?: Callback<unknown>) =>
            manager.#request(name, a, b, owner)) as FakeLockManager['request'],
          query: () => manager.query(),
        },
        crash() {
          owner.dead = true;
          // Dequeued first: freeing a lock must not grant it to a request of this very tab.
          for (const drop of [...owner.waiting]) drop();
          for (const free of [...owner.holding]) free();
        },
      };
    };
  }

  request<T>(name: string, callback: Callback<T>): Promise<T>;
  request<T>(name: string, options: FakeLockOptions, callback: Callback<T>): Promise<T>;
  request<T>(name: string, a: FakeLockOptions | Callback<T>, b?: Callback<T>): Promise<T> {
    return this.#request(name, a, b, undefined);
  }

  #request<T>(
    name: string,
    a: FakeLockOptions | Callback<T>,
    b: Callback<T> | undefined,
    owner: Owner | undefined,
  ): Promise<T> {
    if (owner?.dead) return never();
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
      new Promise<void>((resolve) => queueMicrotask(resolve)).then(() =>
        owner?.dead ? never<T>() : callback(granted),
      );

    if (options.ifAvailable && (this.#held.has(name) || (this.#queues.get(name)?.length ?? 0) > 0)) {
      return run(null).then(
        (value) => (owner?.dead ? never<T>() : value),
        (error: unknown) => (owner?.dead ? never<T>() : Promise.reject(error)),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const dequeue = () => {
        owner?.waiting.delete(dequeue);
        signal?.removeEventListener('abort', onAbort);
        const queue = this.#queues.get(name) ?? [];
        const index = queue.indexOf(waiter);
        if (index < 0) return false; // granted already
        queue.splice(index, 1);
        if (queue.length === 0) this.#queues.delete(name);
        return true;
      };
      const onAbort = () => {
        // Granted already: aborting no longer matters.
        if (dequeue()) reject(abortReason(signal as AbortSignal));
      };
      const waiter: Waiter = {
        grant: () => {
          owner?.waiting.delete(dequeue);
          signal?.removeEventListener('abort', onAbort);
          this.#held.add(name);
          // Released before the request settles, as in browsers: whoever
          // awaits the request finds the lock free (or granted to the next).
          // Once only: a crash frees it before the callback ever settles.
          let held = true;
          const release = () => {
            if (!held) return;
            held = false;
            owner?.holding.delete(release);
            this.#held.delete(name);
            this.#grantNext(name);
          };
          owner?.holding.add(release);
          run(lock).then(
            (value) => {
              release();
              if (!owner?.dead) resolve(value);
            },
            (error: unknown) => {
              release();
              if (!owner?.dead) reject(error);
            },
          );
        },
      };
      signal?.addEventListener('abort', onAbort);
      owner?.waiting.add(dequeue);
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
