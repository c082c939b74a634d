/** What the connection loop wants to hear of the page's life. */
export interface PageLifecycleHandlers {
  /** Back online (going offline needs nothing: the loop asks `isOnline` before each retry). */
  online(): void;
  /** The page became visible. */
  visible(): void;
  /** The page runs again after `freeze`, or came back from the back/forward cache. */
  resumed(): void;
  /** The page is frozen, or goes into the back/forward cache (where it is frozen too). */
  suspended(): void;
  /** The page is being unloaded for good (closed, navigated away without bfcache). */
  unloading(): void;
}

interface LifecycleTargets {
  window?: EventTarget;
  document?: { visibilityState?: string } & Partial<EventTarget>;
}

/**
 * Listens to `online`, `visibilitychange`, `freeze`/`resume` and
 * `pagehide`/`pageshow` and translates them into the few things the loop
 * acts on. Returns the function that removes every listener.
 */
export function watchPageLifecycle(targets: LifecycleTargets, handlers: PageLifecycleHandlers): () => void {
  const { window: win, document: doc } = targets;
  const removers: Array<() => void> = [];
  const on = (target: Partial<EventTarget> | undefined, type: string, fn: (event: Event) => void) => {
    if (!target?.addEventListener || !target.removeEventListener) return;
    target.addEventListener(type, fn);
    removers.push(() => target.removeEventListener!(type, fn));
  };

  on(win, 'online', () => handlers.online());
  on(doc, 'visibilitychange', () => {
    if (doc?.visibilityState === 'visible') handlers.visible();
  });
  // `freeze`/`resume` fire on document in Chrome's Page Lifecycle API. A
  // frozen page runs no JS but keeps its lock (or lease) and its socket: a
  // frozen leader stalled every other tab until it resumed, maybe for hours.
  // Both fire around the back/forward cache too (after pagehide, before
  // pageshow): suspended() and resumed() take a second call.
  on(doc, 'freeze', () => handlers.suspended());
  on(doc, 'resume', () => handlers.resumed());
  on(win, 'pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) handlers.resumed();
  });
  on(win, 'pagehide', (event) => {
    if ((event as PageTransitionEvent).persisted) handlers.suspended();
    else handlers.unloading();
  });

  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}
