import type { RealtimeClient } from '../client';
import { shown, showState } from '../devtools';
import { shareTargetDispatch, streamEventName } from './target-dispatch';

export {
  type ForwardPageLifecycleOptions,
  forwardPageLifecycle,
  type PageLifecycleEventType,
  type PageLifecycleFromOptions,
  type PageLifecycleMessage,
  type PageLifecyclePort,
  type PageLifecycleSink,
  pageLifecycleFrom,
  type WorkerPageLifecycle,
} from './page-lifecycle';
export { streamEventName };

/**
 * Clients bound by {@link bindDomEvents} or {@link installDevtools} and not
 * yet unbound nor closed, latest last: the one {@link setRealtimePropertyFilter}
 * uses.
 */
const bound: Array<() => RealtimeClient> = [];

/**
 * Binds `client` until the returned function is called or the client
 * closes, whichever comes first; then runs `release` once. A page that
 * closes its client (logout) and binds a new one must not reach the closed
 * one through the window-level helpers, nor keep it alive.
 */
function bind(client: RealtimeClient, release: () => void): () => void {
  let done = false;
  // One entry per binding: undoing an older binding of a client bound again
  // since must take away its own entry, not the latest one of that client.
  const entry = (): RealtimeClient => client;
  const unbind = (): void => {
    if (done) return;
    done = true;
    offClose();
    const index = bound.indexOf(entry);
    if (index >= 0) bound.splice(index, 1);
    release();
  };
  // close() tells its statechange listeners `closed` before dropping them.
  const offClose = client.on('statechange', ({ status }) => status === 'closed' && unbind());
  bound.push(entry);
  if (client.getState().status === 'closed') unbind();
  return unbind;
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
 * unbinds; calling it again does nothing. Closing the client unbinds it; a
 * client already closed binds nothing.
 *
 * Bindings of one client to one target share one dispatch, so each batch
 * reaches the target once however many bindings ask for it: the target gets
 * the services of all of them (every service, while one of them names
 * none). Unbinding one takes away only what no other binding of that pair
 * still asks for.
 *
 * @throws TypeError without a target outside a browser, for a `target`
 *   without `dispatchEvent`, or for `services` that is not an array;
 *   RangeError for an invalid service name.
 *
 * @example
 * const unbind = bindDomEvents(rt, { services: ['tasks'] });
 * window.addEventListener('tasks-stream-events', (e) => refresh((e as CustomEvent<RealtimeEvent[]>).detail));
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
  // Checked now: a target that cannot dispatch (a jQuery object, an element
  // id) would otherwise bind, and fail at every batch, reported far from here.
  if (typeof target.dispatchEvent !== 'function') {
    throw new TypeError('bindDomEvents: options.target must be an EventTarget (with dispatchEvent)');
  }
  // A closed client binds nothing, with `services` too: subscribing would
  // throw `this realtime client is closed` (a page that rebinds on login
  // before it created the new client).
  if (client.getState().status === 'closed') return bind(client, () => {});
  return bind(client, shareTargetDispatch(client, target, services));
}

/**
 * Sets the property filter (`null`: every property) of `client`, or else of
 * the client last bound with {@link bindDomEvents} or {@link installDevtools}
 * and neither unbound nor closed since, as legacy pages call it; then dispatches
 * `realtime-property-filter` on `window` with `{ propertyId }` as `detail`.
 *
 * @throws Error when no client is given or bound.
 */
export function setRealtimePropertyFilter(propertyId: string | null, client?: RealtimeClient): void {
  const target = client ?? bound[bound.length - 1]?.();
  if (!target) {
    throw new Error(
      'setRealtimePropertyFilter: no realtime client is bound; call bindDomEvents(rt, …) or installDevtools(rt) first, or pass the client',
    );
  }
  target.setPropertyFilter(propertyId);
  globalThis.window?.dispatchEvent(new CustomEvent('realtime-property-filter', { detail: { propertyId } }));
}

/**
 * Per client shown by {@link installDevtools} (not by `devtools: true`,
 * which shows its client until close()): its installs not yet undone.
 */
const installs = new Map<RealtimeClient, number>();

/**
 * Shows the client in `window.__realtimeState()` and binds it for
 * {@link setRealtimePropertyFilter}, until the returned uninstall function
 * is called or the client closes. `__realtimeState()` returns
 * `client.getState()` (which holds no token) while it is the only client
 * shown (by this or by `createRealtime`'s `devtools: true`), an array of the
 * states of all of them, in the order they were shown, while there are
 * several, `undefined` once none is left. An uninstall that leaves no
 * client shown removes the hook. Outside a browser it only binds.
 */
export function installDevtools(client: RealtimeClient): () => void {
  // A client `devtools: true` shows already is not ours to hide.
  const counted = installs.has(client) || !shown.has(client);
  if (counted) {
    installs.set(client, (installs.get(client) ?? 0) + 1);
    showState(client);
  }
  return bind(client, () => {
    if (!counted) return;
    const left = installs.get(client)! - 1;
    if (left) installs.set(client, left);
    else {
      installs.delete(client);
      shown.delete(client);
    }
    if (!shown.size) delete (globalThis.window as { __realtimeState?: unknown } | undefined)?.__realtimeState;
  });
}
