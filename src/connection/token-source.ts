import { RealtimeError } from '../errors';
import { noop } from '../util/emitter';

/**
 * Where the connection loop gets the token of each connect: the
 * `TokenProvider` (token-provider.ts) for a client with `auth.getToken`, or
 * {@link anonymousTokens} without one.
 */
export interface TokenSource {
  /** The token to connect with (awaited); `undefined` for an anonymous connection. */
  get(): Promise<string | undefined> | undefined;
  /** A `get()` is waiting for the app's `getToken` (or for its code to download). */
  readonly isFetching: boolean;
  /** Stops sharing a fetch that hangs: the next `get()` asks `getToken` again. */
  abandon(): void;
  /** Forgets the cached token (the server refused it). */
  invalidate(): void;
  /** Pushes fresh tokens into the live connection before the old one expires; returns the cancel. */
  scheduleRefresh(onToken: (token: string) => void): () => void;
  /** Lets the code of the source download ahead of the first `get()` (a failure is for `get()` to report). */
  preload?(): void;
}

/** The tokens of a client without `auth.getToken`: none, so nothing to fetch, cache or refresh. */
export const anonymousTokens: TokenSource = {
  // Awaited, undefined takes the microtask a resolved promise does.
  get: noop as () => undefined,
  isFetching: false,
  abandon: noop,
  invalidate: noop,
  scheduleRefresh: () => noop,
};

/**
 * A token source whose provider is downloaded by the first `get()`, so an
 * app without `auth.getToken` never loads the token code.
 *
 * - `preload()` starts the download early (while the tabs elect a leader),
 *   as the transport chain does for the first transport's code.
 * - Until the provider is here, `isFetching` is true: the download is part of
 *   the fetch, and the loop's token timeout covers it as well.
 * - A failed download rejects that `get()` with `RealtimeError('load_failed')`
 *   (the attempt fails and is retried with backoff) and is tried again by the
 *   next `get()`.
 * - `invalidate`, `abandon` and `scheduleRefresh` before the provider is here
 *   have nothing to act on: nothing is cached yet, and a welcome (which
 *   schedules refreshes) needs a token, so the provider, first.
 */
export function lazyTokens(load: () => Promise<TokenSource>): TokenSource {
  let provider: TokenSource | undefined;
  let loading: Promise<TokenSource> | undefined;
  const loaded = (): Promise<TokenSource> =>
    (loading ??= load().then(
      (ready) => (provider = ready),
      (cause: unknown) => {
        loading = undefined;
        throw new RealtimeError('load_failed', 'could not load the auth.getToken part of tabwire', {
          cause,
        });
      },
    ));
  return {
    get: () => (provider ? provider.get() : loaded().then((ready) => ready.get())),
    preload: () => void loaded().catch(noop),
    get isFetching() {
      return provider ? provider.isFetching : true;
    },
    abandon: () => provider?.abandon(),
    invalidate: () => provider?.invalidate(),
    scheduleRefresh: (onToken) => provider?.scheduleRefresh(onToken) ?? noop,
  };
}
