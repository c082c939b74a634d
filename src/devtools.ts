import type { RealtimeState } from './state';

interface Shown {
  getState(): RealtimeState;
}

/**
 * The clients `window.__realtimeState()` shows, in the order they were
 * shown: by `devtools: true` until closed, and by installDevtools.
 */
export const shown = new Set<Shown>();

/** The state of the one client shown, an array of them for several, or undefined for none. */
function hook(): RealtimeState | RealtimeState[] | undefined {
  const states = [...shown].map((c) => c.getState());
  return states[1] ? states : states[0];
}

/** Shows `client` in `window.__realtimeState()`, if there is a window; see {@link shown}. */
export function showState(client: Shown): void {
  const win = globalThis.window as (Window & { __realtimeState?: typeof hook }) | undefined;
  if (win) {
    shown.add(client);
    win.__realtimeState = hook;
  }
}
