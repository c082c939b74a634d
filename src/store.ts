/**
 * A tiny external store in the shape of zustand's vanilla core: `getState`
 * returns an immutable snapshot (frozen in the default build), `setState`
 * replaces it with a shallow merge, `subscribe` tells listeners. React binds
 * to it with `useSyncExternalStore`.
 */
export interface Store<T> {
  getState(): T;
  setState(next: Partial<T>): void;
  subscribe(listener: (state: T, previous: T) => void): () => void;
}

/** Creates a {@link Store} holding `initial`. */
export function createStore<T extends object>(initial: T): Store<T> {
  let state = initial;
  if (process.env.NODE_ENV !== 'production') freeze(state);
  const listeners = new Set<(state: T, previous: T) => void>();
  return {
    getState: () => state,
    setState: (next) => {
      // A new snapshot only when some value differs: listeners hear changes only.
      for (const key in next) {
        if (!Object.is(next[key], state[key])) {
          const previous = state;
          state = { ...state, ...next };
          if (process.env.NODE_ENV !== 'production') freeze(state);
          for (const listener of listeners) listener(state, previous);
          return;
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/**
 * In the default build, the snapshot and the objects and arrays it holds
 * are frozen: an app (or a DevTools console) that wrote into `getState()` or
 * `__realtimeState()` changed what the client reads back (its flags, its
 * cursor) behind its back, and no listener heard of it. Frozen, the write
 * throws in strict code (modules, classes) and is ignored in a console. Not
 * in the production build, where code that is right pays nothing for it.
 * However deep: the flags' lists are read back too (`disabledServices` at
 * each dispatch), and without flags in the options they are DEFAULT_FLAGS',
 * shared by every client of the page. The client's state holds copies only
 * (of the app's lists too), and no cycle.
 */
function freeze(value: object): void {
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null) freeze(inner);
  Object.freeze(value);
}
