import { createContext, createElement, type ReactNode, useContext, useEffect, useRef, useState } from 'react';
import { createRealtime, type RealtimeClient } from '../client';
import type { RealtimeOptions } from '../options';
import type { RealtimeState } from '../state';

const RealtimeContext = createContext<RealtimeClient | null>(null);

// The client's state at the provider's first render, which server rendering
// and hydration read (see serverState in hooks.ts): also when the first
// hook to read it comes later, in a boundary that hydrates once another
// component subscribed and the client connected.
export const firstStates = /* @__PURE__ */ new WeakMap<RealtimeClient, RealtimeState>();

/** Props of {@link RealtimeProvider}: a client you own, or options for one it owns. */
export type RealtimeProviderProps =
  | { client: RealtimeClient; options?: undefined; children?: ReactNode }
  | { client?: undefined; options: RealtimeOptions; children?: ReactNode };

/**
 * Makes a realtime client available to the hooks below it.
 *
 * - Given `client`, it only passes it down: you created it, you close it.
 * - Given `options`, it creates the client in an effect and closes it on
 *   unmount. The options are read once (like `useState`'s initial value), so
 *   an inline options object does not recreate the connection. The children
 *   render once that effect has run, from the second commit on (not during
 *   server rendering nor the first client render), and
 *   StrictMode's mount → unmount → mount closes the first client before any
 *   child could subscribe to it, so only one client is ever live.
 *
 * @example
 * <RealtimeProvider options={{ url: 'https://api.example.com/v2/realtime', auth: { getToken } }}>
 *   <App />
 * </RealtimeProvider>
 */
export function RealtimeProvider(props: RealtimeProviderProps): ReactNode {
  const [owned, setOwned] = useState<RealtimeClient | null>(null);
  const { client, options } = props;
  const initialOptions = useRef(options);
  // The first options given, also when they come after a `client` (a swap
  // from a shared client to an own one): read once from then on, or the
  // provider had nothing to create a client from and rendered nothing.
  // (A ref's lazy initialisation, which React allows during render.)
  initialOptions.current ??= options;
  useEffect(() => {
    const options = initialOptions.current;
    if (client || !options) return;
    const created = createRealtime(options);
    setOwned(created);
    return () => {
      setOwned(null);
      // close() only rejects if the platform's lock manager does; nothing to do then.
      created.close().catch(() => {});
    };
  }, [client]);
  const value = client ?? owned;
  if (!value) return null;
  if (!firstStates.has(value)) firstStates.set(value, value.getState());
  return createElement(RealtimeContext.Provider, { value }, props.children);
}

/**
 * The client of the nearest {@link RealtimeProvider}.
 *
 * @throws Error outside a provider.
 */
export function useRealtimeClient(): RealtimeClient {
  return useClientFor('useRealtimeClient');
}

/**
 * The client of the nearest {@link RealtimeProvider}, for the hook named
 * `hook`: outside a provider, the error names the hook the app called.
 */
export function useClientFor(hook: string): RealtimeClient {
  const client = useContext(RealtimeContext);
  if (!client) {
    throw new Error(
      `${hook} must be used inside a <RealtimeProvider>: wrap the app (or this component) in <RealtimeProvider client={rt}> or options={…}`,
    );
  }
  return client;
}
