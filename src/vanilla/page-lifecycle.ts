// A dedicated worker has no window and no document: the page events the
// client acts on (pagehide/pageshow, freeze/resume, visibilitychange) never
// reach a client created there. The page forwards them as messages
// (forwardPageLifecycle), and the worker turns those back into events on two
// EventTargets shaped as the client's `platform.window` and
// `platform.document` (pageLifecycleFrom). Nothing here is in the core: an
// app that runs its client in a page pays nothing for it.

import { fail } from '../util/validate';

/** The page events {@link forwardPageLifecycle} forwards. */
export type PageLifecycleEventType = 'pagehide' | 'pageshow' | 'freeze' | 'resume' | 'visibilitychange';

/**
 * A page event as {@link forwardPageLifecycle} posts it to the worker and
 * {@link pageLifecycleFrom} takes it: exactly these fields, nothing more.
 * A worker's own `message` handler sees these too: it can tell them by
 * `tabwire === 'page-lifecycle'`.
 */
export interface PageLifecycleMessage {
  /** The namespace, so an app's own messages are never taken for one. */
  tabwire: 'page-lifecycle';
  /** Version of this shape; a worker ignores every other. */
  v: 1;
  type: PageLifecycleEventType;
  /** `pagehide` and `pageshow` only: into (out of) the back/forward cache. */
  persisted?: boolean;
  /** The page's `document.visibilityState` as the event fired. */
  visibilityState: 'visible' | 'hidden';
}

/** Where {@link forwardPageLifecycle} posts: a `Worker` (or a `MessagePort`). */
export interface PageLifecycleSink {
  postMessage(message: PageLifecycleMessage): void;
}

/** Options of {@link forwardPageLifecycle}: the page's own by default. */
export interface ForwardPageLifecycleOptions {
  /** Fires `pagehide` and `pageshow`; default the global `window`. */
  window?: EventTarget;
  /** Fires `freeze`, `resume` and `visibilitychange`; default the global `document`. */
  document?: { readonly visibilityState: string } & EventTarget;
  /**
   * How long the page's `freeze` listener holds the page, after posting, so
   * the worker can act on it before the browser freezes the worker too;
   * default 50, 0 for none. See {@link forwardPageLifecycle}.
   */
  freezeHoldMs?: number;
}

const VERSION = 1;
const FREEZE_HOLD_MS = 50;
const NAMESPACE = 'page-lifecycle';

/** `prerender` (old browsers) is not shown either. */
const visibilityOf = (doc: { readonly visibilityState: string }): 'visible' | 'hidden' =>
  doc.visibilityState === 'visible' ? 'visible' : 'hidden';

/**
 * Forwards the page's life to a client in `worker`: on the page, posts each
 * `pagehide` and `pageshow` (with `persisted`), `freeze`, `resume` and
 * `visibilitychange` of `window` and `document` to the worker, as a
 * {@link PageLifecycleMessage} carrying the page's `visibilityState`; and
 * posts the current `visibilityState` once at the start. In the worker,
 * {@link pageLifecycleFrom} hands them to the client. Returns the function
 * that stops forwarding; calling it again does nothing.
 *
 * A frozen page freezes its worker too, as soon as the page's `freeze`
 * listeners have returned (Chromium): a worker that had not yet run the
 * message would keep the election's lock while frozen, so the other tabs got
 * nothing until the page resumed, maybe hours later. So after posting
 * `freeze` the listener holds the page for `freezeHoldMs` (default 50 ms,
 * busy: a frozen page has no later turn), in which the worker closes its
 * connection and lets the lock go. The page is hidden by then; the renderer
 * process's other pages wait as long, once per freeze.
 *
 * Only for a dedicated `Worker`, whose life is its page's: a `SharedWorker`
 * serves several pages, and one page frozen is not the worker frozen.
 * `online` and `offline` are not forwarded: they fire at the worker's own
 * global scope.
 *
 * @throws TypeError for a `worker` without `postMessage`, or a `window` or
 *   `document` that is no EventTarget (none given outside a browser page).
 * @throws RangeError for a `freezeHoldMs` that is not a number from 0 to 1000.
 *
 * @example
 * const worker = new Worker(new URL('./realtime-worker.ts', import.meta.url), { type: 'module' });
 * const stop = forwardPageLifecycle(worker);
 */
export function forwardPageLifecycle(
  worker: PageLifecycleSink,
  options?: ForwardPageLifecycleOptions,
): () => void {
  if (typeof worker?.postMessage !== 'function') {
    throw new TypeError('forwardPageLifecycle: worker must have postMessage (a Worker or a MessagePort)');
  }
  const win = options?.window ?? globalThis.window;
  const doc = options?.document ?? globalThis.document;
  // Checked before any listener is added: a throw halfway would leave the
  // window's listeners posting, with no stop returned to remove them.
  if (!isEventTarget(win) || !isEventTarget(doc)) {
    throw new TypeError(
      'forwardPageLifecycle needs a window and a document (EventTargets) outside a browser page',
    );
  }
  const holdMs = options?.freezeHoldMs ?? FREEZE_HOLD_MS;
  // Longer would be a page that hangs rather than one that leaves.
  if (!(typeof holdMs === 'number' && holdMs >= 0 && holdMs <= 1000)) {
    fail('freezeHoldMs', 'a number from 0 to 1000', holdMs);
  }
  const post = (type: PageLifecycleEventType, persisted?: boolean): void => {
    const message: PageLifecycleMessage = {
      tabwire: NAMESPACE,
      v: VERSION,
      type,
      visibilityState: visibilityOf(doc),
    };
    if (persisted !== undefined) message.persisted = persisted;
    worker.postMessage(message);
  };
  const transition = (event: Event): void =>
    post(event.type as PageLifecycleEventType, (event as Partial<PageTransitionEvent>).persisted === true);
  const plain = (event: Event): void => post(event.type as PageLifecycleEventType);
  const freeze = (event: Event): void => {
    plain(event);
    hold(holdMs);
  };
  // Where the browser fires them: freeze, resume and visibilitychange at the document.
  const listeners: Array<[EventTarget, string, (event: Event) => void]> = [
    [win, 'pagehide', transition],
    [win, 'pageshow', transition],
    [doc, 'freeze', freeze],
    [doc, 'resume', plain],
    [doc, 'visibilitychange', plain],
  ];
  for (const [target, type, listener] of listeners) target.addEventListener(type, listener);
  // The worker may start in a hidden page: it cannot ask.
  post('visibilitychange');
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const [target, type, listener] of listeners) target.removeEventListener(type, listener);
  };
}

/** Whether `target` can take and drop listeners (an `EventTarget` in shape). */
function isEventTarget(target: unknown): target is EventTarget {
  const { addEventListener, removeEventListener } = (target ?? {}) as Partial<EventTarget>;
  return typeof addEventListener === 'function' && typeof removeEventListener === 'function';
}

/** Keeps the thread busy for `ms`: the only wait a `freeze` listener has (no later turn comes). */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // The worker runs meanwhile, on its own thread.
  }
}

/**
 * What the page posts to: a dedicated worker's global scope (`self`), or a
 * `MessagePort` (started here, as `addEventListener` does not start one).
 */
export interface PageLifecyclePort extends Pick<EventTarget, 'addEventListener'> {
  start?(): void;
}

/** Options of {@link pageLifecycleFrom}. */
export interface PageLifecycleFromOptions {
  /**
   * Where the worker's own `online` and `offline` fire, which the returned
   * `window` passes on; default `globalThis` (the worker's global scope).
   */
  global?: EventTarget;
}

/** The page's life in a worker: `platform.window` and `platform.document` for `createRealtime`. */
export interface WorkerPageLifecycle {
  /**
   * Fires the page's `pagehide` and `pageshow` (with `persisted`) and the
   * worker's own `online` and `offline`.
   */
  readonly window: EventTarget;
  /**
   * Fires the page's `freeze`, `resume` and `visibilitychange`;
   * `visibilityState` is the page's as last posted (`visible` until then).
   */
  readonly document: EventTarget & { readonly visibilityState: 'visible' | 'hidden' };
}

/** An event with `persisted`, as the page's `PageTransitionEvent` (which workers do not have). */
class PageTransition extends Event {
  readonly persisted: boolean;
  constructor(type: string, persisted: boolean) {
    super(type);
    this.persisted = persisted;
  }
}

const TRANSITIONS: ReadonlySet<unknown> = new Set(['pagehide', 'pageshow']);
const PLAIN: ReadonlySet<unknown> = new Set(['freeze', 'resume', 'visibilitychange']);
const FIELDS: ReadonlySet<string> = new Set(['tabwire', 'v', 'type', 'persisted', 'visibilityState']);

/**
 * A copy of the event's `data` when it is exactly a {@link PageLifecycleMessage}, else
 * undefined. It comes from another context (or from the app's own messages on
 * the same port): anything else, or anything that throws when read, is not
 * ours. Each field is read once and the copy is what replays: a getter (code
 * in the worker may dispatch any `data`) cannot answer the check one thing
 * and the replay another, nor throw after the check.
 */
function readPageLifecycleMessage(event: Event): PageLifecycleMessage | undefined {
  try {
    // Read in here too: code in the worker may dispatch any `message` event.
    const { data } = event as Partial<MessageEvent>;
    if (typeof data !== 'object' || data === null) return undefined;
    const keys = Object.keys(data);
    const { tabwire, v, type, persisted, visibilityState } = data as Partial<Record<string, unknown>>;
    if (tabwire !== NAMESPACE || v !== VERSION) return undefined;
    if (visibilityState !== 'visible' && visibilityState !== 'hidden') return undefined;
    if (!keys.every((key) => FIELDS.has(key))) return undefined;
    // `persisted` on the two transitions, and only there.
    if (TRANSITIONS.has(type)) {
      return typeof persisted === 'boolean'
        ? { tabwire, v, type: type as PageLifecycleEventType, persisted, visibilityState }
        : undefined;
    }
    return PLAIN.has(type) && !keys.includes('persisted')
      ? { tabwire, v, type: type as PageLifecycleEventType, visibilityState }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * In a dedicated worker, the page's life as {@link forwardPageLifecycle}
 * posts it to `port` (default the worker's global scope): `window` and
 * `document` EventTargets to give `createRealtime` as `platform.window` and
 * `platform.document`, which re-dispatch the page's events (`pagehide` and
 * `pageshow` with `persisted`) and keep `document.visibilityState` current.
 * A message that is not exactly a {@link PageLifecycleMessage} (the app's
 * own, garbage) is ignored. `window` also passes on the worker's own
 * `online` and `offline`: the client listens for `online` on
 * `platform.window` alone, and would otherwise never hear the network come
 * back.
 *
 * Call it once per worker, at its top level before any `await`: a message
 * that came before it listened is lost (the page's first, its
 * `visibilityState`, comes at once), and a worker of a hidden page would
 * take the page for visible until its visibility changed. Give the result to
 * each client the worker creates: its listeners last as long as the worker.
 * Not for a `SharedWorker`, which serves several pages: one page frozen or
 * hidden is not the worker's whole life.
 *
 * @throws TypeError when `port` has no `addEventListener` (outside a worker
 *   without a port).
 *
 * @example
 * // realtime-worker.ts
 * const rt = createRealtime({ url, scope, platform: { ...pageLifecycleFrom() } });
 */
export function pageLifecycleFrom(
  port: PageLifecyclePort = globalThis as unknown as PageLifecyclePort,
  options?: PageLifecycleFromOptions,
): WorkerPageLifecycle {
  if (typeof port?.addEventListener !== 'function') {
    throw new TypeError('pageLifecycleFrom needs a port: the worker global scope or a MessagePort');
  }
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' as 'visible' | 'hidden' });
  const network = options?.global ?? (globalThis as Partial<EventTarget>);
  // The same Event cannot be dispatched twice: a new one of its type.
  const passOn = (event: Event): boolean => win.dispatchEvent(new Event(event.type));
  if (typeof network.addEventListener === 'function') {
    network.addEventListener('online', passOn);
    network.addEventListener('offline', passOn);
  }
  port.addEventListener('message', (event) => {
    const message = readPageLifecycleMessage(event);
    if (message) replay(message, win, doc);
  });
  port.start?.();
  return { window: win, document: doc };
}

/**
 * Dispatches `message` as the page's event on the worker's stand-ins. A
 * change of visibility comes first, as `visibilitychange`, whichever event
 * carried it, so `document.visibilityState` is the page's when each event
 * fires; a `visibilitychange` that changes nothing (the first message, for
 * a visible page) fires nothing.
 */
function replay(
  { type, persisted, visibilityState }: PageLifecycleMessage,
  win: EventTarget,
  doc: EventTarget & { visibilityState: 'visible' | 'hidden' },
): void {
  if (doc.visibilityState !== visibilityState) {
    doc.visibilityState = visibilityState;
    doc.dispatchEvent(new Event('visibilitychange'));
  }
  if (type === 'visibilitychange') return;
  if (persisted !== undefined) win.dispatchEvent(new PageTransition(type, persisted));
  else doc.dispatchEvent(new Event(type));
}
