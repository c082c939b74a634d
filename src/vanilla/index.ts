import type { RealtimeClient } from '../client';
import type { RealtimeState } from '../state';

let defaultClient: RealtimeClient | undefined;

/** Options of {@link bindDomEvents}. */
export interface BindDomEventsOptions {
  /** Services whose events are dispatched. */
  services: string[];
  /** Where the events are dispatched; default `window`. */
  target?: EventTarget;
}

/**
 * Dispatches each batch of a service's events as a DOM `CustomEvent` named
 * `${service}-stream-events` with the events as `detail`, the shape legacy
 * pages already listen to. Returns the function that unbinds.
 */
export function bindDomEvents(client: RealtimeClient, options: BindDomEventsOptions): () => void {
  const target = options.target ?? globalThis.window;
  if (!target) throw new TypeError('bindDomEvents needs a target outside a browser window');
  defaultClient = client;
  const offs = options.services.map((service) =>
    client.subscribe(service, (events) => {
      target.dispatchEvent(new CustomEvent(`${service}-stream-events`, { detail: events }));
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}

/**
 * Sets the property filter of the client last bound with `bindDomEvents` or
 * `installDevtools` (or the one given), as legacy pages call it.
 */
export function setRealtimePropertyFilter(propertyId: string | null, client = defaultClient): void {
  if (!client)
    throw new Error('setRealtimePropertyFilter: no realtime client bound yet (call bindDomEvents first)');
  client.setPropertyFilter(propertyId);
  globalThis.window?.dispatchEvent(new CustomEvent('realtime-property-filter', { detail: { propertyId } }));
}

/** Installs `window.__realtimeState()` for this client; returns the uninstall function. */
export function installDevtools(client: RealtimeClient): () => void {
  const win = globalThis.window as (Window & { __realtimeState?: () => RealtimeState }) | undefined;
  defaultClient = client;
  if (!win) return () => {};
  const getter = () => client.getState();
  win.__realtimeState = getter;
  return () => {
    if (win.__realtimeState === getter) delete win.__realtimeState;
  };
}
