import type { RealtimeClient } from '../client';
import type { RealtimeState } from '../state';
import { shareTargetDispatch, streamEventName } from './target-dispatch';

export { streamEventName };

/**
 * Clients bound by {@link bindDomEvents} or {@link installDevtools} and not
 * yet unbound, latest last: the one {@link setRealtimePropertyFilter} uses.
 */
const bound: RealtimeClient[] = [];

function bind(client: RealtimeClient): () => void {
  bound.push(client);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const index = bound.lastIndexOf(client);
    if (index >= 0) bound.splice(index, 1);
  };
}

/** Options of {@link bindDomEvents}. */
export interface BindDomEventsOptions {
  /**
   * Services to subscribe to and dispatch. Without it nothing is subscribed:
   * the batches of every service something else subscribed to (a
   * `useRealtimeService`, an `rt.subscribe`) are dispatched.
   */
  services?: string[];
  /** Where the events are dispatched; default `window`. */
  target?: EventTarget;
}

/**
 * Dispatches each batch of a service's events as a DOM `CustomEvent` named
 * `${service}-stream-events` with the events (an array, in seq order) as
 * `detail`, the shape legacy pages already listen to: of `options.services`,
 * which it subscribes to, or without them of every service the client
 * delivers to a subscriber of its own. The events are dispatched after the
 * tab's handlers of the batch ran. The client becomes the
 * one {@link setRealtimePropertyFilter} uses. Returns the function that
 * unbinds; calling it again does nothing.
 *
 * Bindings of one client to one target share one dispatch, so each batch
 * reaches the target once however many bindings ask for it: the target gets
 * the services of all of them (every service, while one of them names
 * none). Unbinding one takes away only what no other binding of that pair
 * still asks for.
 *
 * @throws TypeError without a target outside a browser, or for `services`
 *   that is not an array; RangeError for an invalid service name.
 *
 * @example
 * const unbind = bindDomEvents(rt, { services: ['tasks'] });
 * window.addEventListener('tasks-stream-events', (e) => refresh(e.detail));
 */
export function bindDomEvents(client: RealtimeClient, options?: BindDomEventsOptions): () => void {
  const { services, target: given } = options ?? {};
  if (services !== undefined && !Array.isArray(services)) {
    throw new TypeError(
      `bindDomEvents: options.services must be an array of service names, got ${typeof services}`,
    );
  }
  const target = given ?? globalThis.window;
  if (!target) throw new TypeError('bindDomEvents needs a target outside a browser window');
  const release = shareTargetDispatch(client, target, services);
  const unbind = bind(client);
  return () => {
    unbind();
    release();
  };
}

/**
 * Sets the property filter (`null`: every property) of `client`, or else of
 * the client last bound with {@link bindDomEvents} or {@link installDevtools}
 * and still bound, as legacy pages call it; then dispatches
 * `realtime-property-filter` on `window` with `{ propertyId }` as `detail`.
 *
 * @throws Error when no client is given or bound.
 */
export function setRealtimePropertyFilter(propertyId: string | null, client?: RealtimeClient): void {
  const target = client ?? bound[bound.length - 1];
  if (!target) {
    throw new Error(
      'setRealtimePropertyFilter: no realtime client is bound; call bindDomEvents(rt, …) or installDevtools(rt) first, or pass the client',
    );
  }
  target.setPropertyFilter(propertyId);
  globalThis.window?.dispatchEvent(new CustomEvent('realtime-property-filter', { detail: { propertyId } }));
}

/**
 * Installs `window.__realtimeState()` (returns `client.getState()`, which
 * holds no token) and binds the client for {@link setRealtimePropertyFilter}.
 * Returns the uninstall function; it removes the hook only if it is still
 * this one. Outside a browser it only binds.
 */
export function installDevtools(client: RealtimeClient): () => void {
  const win = globalThis.window as (Window & { __realtimeState?: () => RealtimeState }) | undefined;
  const unbind = bind(client);
  if (!win) return unbind;
  const getter = () => client.getState();
  win.__realtimeState = getter;
  return () => {
    unbind();
    if (win.__realtimeState === getter) delete win.__realtimeState;
  };
}
