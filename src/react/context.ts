import { createContext, createElement, type ReactNode, useContext, useEffect, useRef, useState } from 'react';
import { createRealtime, type RealtimeClient } from '../client';
import type { RealtimeOptions } from '../options';

const RealtimeContext = createContext<RealtimeClient | null>(null);

/** Props of {@link RealtimeProvider}: a client you own, or options for one it owns. */
export type RealtimeProviderProps =
  | { client: RealtimeClient; options?: undefined; children?: ReactNode }
  | { client?: undefined; options: RealtimeOptions; children?: ReactNode };

/**
 * Makes a realtime client available to the hooks below it. Given `options`,
 * it creates the client on mount and closes it on unmount.
 */
export function RealtimeProvider(props: RealtimeProviderProps): ReactNode {
  const [owned, setOwned] = useState<RealtimeClient | null>(null);
  const { client, options } = props;
  // Options are read once, like useState's initial value: a new options
  // object on each render must not recreate the connection.
  const initialOptions = useRef(options);
  useEffect(() => {
    const options = initialOptions.current;
    if (client || !options) return;
    const created = createRealtime(options);
    setOwned(created);
    return () => {
      void created.close();
      setOwned(null);
    };
  }, [client]);
  const value = client ?? owned;
  if (!value) return null;
  return createElement(RealtimeContext.Provider, { value }, props.children);
}

/** The client of the nearest {@link RealtimeProvider}; throws outside one. */
export function useRealtimeClient(): RealtimeClient {
  const client = useContext(RealtimeContext);
  if (!client) throw new Error('useRealtimeClient must be used inside a <RealtimeProvider>');
  return client;
}
