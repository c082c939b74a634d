import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { EventHandler } from '../client';
import type { RealtimeState } from '../state';
import { useRealtimeClient } from './context';

/**
 * Calls `handler` with each batch of `service`'s events while `enabled`.
 * Subscribes once per (service, enabled) and always calls the latest handler,
 * so an inline arrow function does not re-subscribe on every render.
 */
export function useRealtimeService(service: string, handler: EventHandler, enabled = true): void {
  const client = useRealtimeClient();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!enabled) return;
    return client.subscribe(service, (events) => latest.current(events));
  }, [client, service, enabled]);
}

const identity = (state: RealtimeState) => state;

/**
 * The client's state, or a slice of it. The component re-renders only when
 * the selected value changes (`Object.is`), so select the smallest slice.
 */
export function useRealtimeState(): RealtimeState;
export function useRealtimeState<T>(selector: (state: RealtimeState) => T): T;
export function useRealtimeState<T>(selector?: (state: RealtimeState) => T): T | RealtimeState {
  const client = useRealtimeClient();
  const select = (selector ?? identity) as (state: RealtimeState) => T;
  // Memoise on the snapshot so a selector that builds a new object still
  // returns the same value for the same state (useSyncExternalStore needs it).
  const memo = useRef<{ state: RealtimeState; value: T } | null>(null);
  const getSnapshot = () => {
    const state = client.getState();
    if (memo.current?.state !== state) {
      const value = select(state);
      memo.current = {
        state,
        value: memo.current && Object.is(memo.current.value, value) ? memo.current.value : value,
      };
    }
    return memo.current.value;
  };
  return useSyncExternalStore(client.subscribeState, getSnapshot, getSnapshot);
}

/** Sets this tab's property filter while the component is mounted with it. */
export function useRealtimePropertyFilter(propertyId: string | null): void {
  const client = useRealtimeClient();
  useEffect(() => {
    client.setPropertyFilter(propertyId);
  }, [client, propertyId]);
}
