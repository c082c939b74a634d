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
 */
function freeze(state: object): void {
  for (const value of Object.values(state))
    if (typeof value === 'object' && value !== null) Object.freeze(value);
  Object.freeze(state);
}
