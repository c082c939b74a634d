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
 * acts on (see {@link PageLifecycleHandlers}; each is called as a plain
 * function, maybe given the event). Returns the function that removes every
 * listener.
 */
export function watchPageLifecycle(
  { window: win, document: doc }: LifecycleTargets,
  online: PageLifecycleHandlers['online'],
  visible: PageLifecycleHandlers['visible'],
  resumed: PageLifecycleHandlers['resumed'],
  suspended: PageLifecycleHandlers['suspended'],
  unloading: PageLifecycleHandlers['unloading'],
): () => void {
  const listeners: [Partial<EventTarget> | undefined, string, (event: Event) => void][] = [
    [win, 'online', online],
    [doc, 'visibilitychange', () => doc?.visibilityState === 'visible' && visible()],
    // `freeze`/`resume` fire on document in Chrome's Page Lifecycle API. A
    // frozen page runs no JS but keeps its lock (or lease) and its socket: a
    // frozen leader stalled every other tab until it resumed, maybe for hours.
    // Both fire around the back/forward cache too (after pagehide, before
    // pageshow): suspended() and resumed() take a second call.
    [doc, 'freeze', suspended],
    [doc, 'resume', resumed],
    [win, 'pageshow', (event) => (event as PageTransitionEvent).persisted && resumed()],
    [win, 'pagehide', (event) => ((event as PageTransitionEvent).persisted ? suspended : unloading)()],
  ];
  const each = (method: 'addEventListener' | 'removeEventListener'): void => {
    // A target without both methods (a platform.document that is no EventTarget) gets none.
    for (const [target, type, listener] of listeners)
      if (target?.addEventListener && target.removeEventListener) target[method]!(type, listener);
  };
  each('addEventListener');
  return () => each('removeEventListener');
}
