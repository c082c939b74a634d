import { useCallback, useEffect, useInsertionEffect, useRef, useSyncExternalStore } from 'react';
import type { EventHandler, RealtimeClient } from '../client';
import type { RealtimeState } from '../state';
import { firstStates, useClientFor } from './context';

// The app may close its client (logout) and re-render, mounting components,
// before it hands the provider a new one: a closed client takes nothing, and
// must not throw from an effect, which would take the whole tree down.
const isClosed = (client: RealtimeClient): boolean => client.getState().status === 'closed';

/**
 * Calls `handler` with each batch of `service`'s events while `enabled`.
 *
 * Subscribes once per (client, service, enabled) and always calls the handler
 * of the latest committed render, so an inline arrow function does not
 * re-subscribe on every render. Unsubscribes on unmount and when `enabled`
 * turns false; does nothing on a closed client. Stays subscribed while a
 * Suspense boundary hides it (it is still mounted). StrictMode's double mount
 * subscribes, unsubscribes and subscribes again within one tick; the
 * client's idle grace keeps the connection, so it does not reconnect.
 *
 * @example
 * useRealtimeService('tasks', (events) => queryClient.invalidateQueries({ queryKey: ['tasks'] }));
 */
export function useRealtimeService(service: string, handler: EventHandler, enabled = true): void {
  const client = useClientFor('useRealtimeService');
  // What the latest committed render subscribes to: its client and service
  // while enabled (`false` while not), and its handler.
  const latest = useRef([handler, enabled && client, service] as const);
  // Taken in at commit, not during render (a render React throws away must
  // not leave its handler behind), and before any layout effect of the
  // commit runs (a child's runs before this component's), as in
  // useOptimisticMutation. (No insertion effect runs in server rendering.)
  useInsertionEffect(() => {
    latest.current = [handler, enabled && client, service];
  });
  // A passive effect, not a layout one: a Suspense boundary that hides
  // content already shown (a sibling suspended outside a transition) runs
  // its layout effects' cleanups, so the hidden component lost its batches
  // and, past the idle grace, the tab its connection. Until this effect
  // moves it, the old subscription hands nothing to the handler just taken
  // in, written for another client, service or `enabled: false`.
  useEffect(() => {
    if (!enabled || isClosed(client)) return;
    return client.subscribe(service, (events) => {
      const [now, to, of] = latest.current;
      if (to === client && of === service) now(events);
    });
  }, [client, service, enabled]);
}

const identity = (state: RealtimeState): RealtimeState => state;

// What server rendering and hydration read (React's getServerSnapshot): the
// page's client is not the server's, so reading its live state there would
// not give what the server rendered. Its first state (see firstStates),
// kept: a boundary that hydrates later, once the client connected, must
// match too. Without the fields of the tab itself: the server's client is
// another "tab" (its own leader, no election, another id).
const serverStates = /* @__PURE__ */ new WeakMap<RealtimeClient, RealtimeState>();
const serverState = (client: RealtimeClient): RealtimeState => {
  let state = serverStates.get(client);
  if (!state) {
    state = {
      ...(firstStates.get(client) ?? client.getState()),
      tabId: '',
      isLeader: false,
      leaderTabId: undefined,
      electionStrategy: 'none',
    };
    serverStates.set(client, state);
  }
  return state;
};

/**
 * The client's state, or a slice of it, through `useSyncExternalStore`.
 *
 * The component re-renders only when the selected value changes by
 * `isEqual` (default `Object.is`), so select the smallest slice; a selector
 * that builds a new object or array each time needs an `isEqual` (a shallow
 * comparison, say), or it re-renders on every state change.
 *
 * In server rendering and hydration it reads the client's first state with
 * `tabId: ''`, `isLeader: false`, `leaderTabId: undefined` and
 * `electionStrategy: 'none'` (the server's client is not the page's), then
 * the live state once hydrated.
 *
 * @example
 * const status = useRealtimeState((s) => s.status);
 */
export function useRealtimeState(): RealtimeState;
export function useRealtimeState<T>(
  selector: (state: RealtimeState) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;
export function useRealtimeState<T>(
  selector?: (state: RealtimeState) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): T | RealtimeState {
  const client = useClientFor('useRealtimeState');
  const select = (selector ?? identity) as (state: RealtimeState) => T;
  // The method is called detached by React: bind it to its client.
  const subscribe = useCallback((onChange: () => void) => client.subscribeState(onChange), [client]);
  // Memoised on (state, selector) so that the same state gives the same value
  // (useSyncExternalStore requires it), and on the previous value so that an
  // equal slice of a new state keeps its identity and causes no render.
  const memo = useRef<{ state: RealtimeState; select: (state: RealtimeState) => T; value: T } | null>(null);
  const read = (state: RealtimeState): T => {
    const previous = memo.current;
    if (previous?.state === state && previous.select === select) return previous.value;
    const value = select(state);
    memo.current = {
      state,
      select,
      value: previous !== null && isEqual(previous.value, value) ? previous.value : value,
    };
    return memo.current.value;
  };
  return useSyncExternalStore(
    subscribe,
    () => read(client.getState()),
    () => read(serverState(client)),
  );
}

// Per client, the useRealtimePropertyFilter components mounted, in mount
// order, so that the one under the last can take over when it unmounts (two
// pages' filters, or one id twice). A component is its ref: it keeps its
// place when its id changes. (Not a state of the core, which has one filter
// per tab and leaves the stacking to the adapter.)
const filters = /* @__PURE__ */ new WeakMap<RealtimeClient, { current: string | null }[]>();

/**
 * Narrows this tab's events to one property (`null`: all) while the component
 * is mounted. With several mounted, the last one mounted wins; when it
 * unmounts, the filter goes back to the one of the latest mounted still
 * there, and to `null` once none is left, unless someone else set another
 * one meanwhile. A new `propertyId` applies at once if this component is the
 * last one mounted, else when those mounted after it unmount. Does nothing on
 * a closed client.
 *
 * @example
 * useRealtimePropertyFilter(selectedPropertyId ?? null);
 */
export function useRealtimePropertyFilter(propertyId: string | null): void {
  const client = useClientFor('useRealtimePropertyFilter');
  const mine = useRef(propertyId);
  useEffect(() => {
    if (isClosed(client)) return;
    const stack = filters.get(client) ?? [];
    filters.set(client, stack);
    stack.push(mine);
    return () => {
      stack.splice(stack.indexOf(mine), 1);
      // A provider that owns the client may have closed it already.
      if (!isClosed(client) && client.getState().propertyFilter === mine.current) {
        client.setPropertyFilter(stack.at(-1)?.current ?? null);
      }
    };
  }, [client]);
  // After the effect above, so that on mount this component is on its stack.
  useEffect(() => {
    mine.current = propertyId;
    if (filters.get(client)?.at(-1) === mine && !isClosed(client)) client.setPropertyFilter(propertyId);
  }, [client, propertyId]);
}
