/**
 * A tiny external store in the shape of zustand's vanilla core: `getState`
 * returns an immutable snapshot, `setState` replaces it with a shallow merge,
 * `subscribe` tells listeners. React binds to it with `useSyncExternalStore`.
 */
export interface Store<T> {
  getState(): T;
  setState(next: Partial<T>): void;
  subscribe(listener: (state: T, previous: T) => void): () => void;
}

/** Creates a {@link Store} holding `initial`. */
export function createStore<T extends object>(initial: T): Store<T> {
  let state = initial;
  const listeners = new Set<(state: T, previous: T) => void>();
  return {
    getState: () => state,
    setState: (next) => {
      // A new snapshot only when some value differs: listeners hear changes only.
      for (const key in next) {
        if (!Object.is(next[key], state[key])) {
          const previous = state;
          state = { ...state, ...next };
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
