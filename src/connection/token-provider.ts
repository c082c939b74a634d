import type { Clock, WallClock } from '../clock';
import type { RealtimeError } from '../errors';
import type { Timer } from './timer';
import type { TokenKit } from './token-kit';
import type { TokenSource } from './token-source';

/**
 * What the app's `getToken` returns: the token, or the token with its expiry
 * in epoch **milliseconds** (a JWT's `exp` is in seconds: multiply by 1000).
 * An `expiresAt` of `null` (as JSON APIs send it) or left out: no expiry known.
 */
export type TokenResult = string | { token: string; expiresAt?: number | null };

/** The app's token source (`auth.getToken` of `createRealtime`). */
export type GetToken = () => TokenResult | Promise<TokenResult>;

/**
 * Options of {@link TokenProvider}: the `auth` group of `createRealtime` as
 * `resolveOptions` validated it, and the platform's clocks.
 */
export interface TokenProviderOptions {
  /** Where tokens come from. Without it the connection is anonymous and `get()` resolves `undefined`. */
  getToken?: GetToken;
  /** Refresh this long before `expiresAt`, in ms. */
  refreshSkewMs: number;
  /** Epoch milliseconds, to compare with `expiresAt`. */
  wallClock: WallClock;
  /** Timers of the scheduled refresh. */
  clock: Clock;
}

/** Default of `auth.refreshSkewMs` (`resolveOptions` applies its own, the same). */
export const DEFAULT_REFRESH_SKEW_MS = 30_000;

/**
 * After a failed scheduled refresh the next try comes at half the time left
 * before expiry, so tries get denser as expiry nears; below this much time
 * left there is no point and a 401 will take over.
 */
const MIN_RETRY_DELAY_MS = 1000;

/** One schedule: its own object, so a stale cancel can tell it from a newer one with the same `onToken`. */
interface RefreshSubscription {
  readonly onToken: (token: string) => void;
}

/**
 * Caches the app's token and refreshes it before it expires.
 *
 * - `get()` answers from the cache until the token is within `refreshSkewMs`
 *   of `expiresAt` (or within half its lifetime, for tokens that live shorter
 *   than twice the skew — otherwise a 20 s token with a 30 s skew would be
 *   stale on arrival and refreshed on every call).
 * - Every fetch is single-flight: concurrent `get()` and `refresh()` calls
 *   share one call of `getToken`.
 * - Any failure of `getToken` (throw, rejection, malformed result) rejects
 *   with `RealtimeError('auth_failed')` and leaves the cache as it was, so
 *   the next call simply tries again.
 * - `scheduleRefresh(onToken)` pushes fresh tokens into a live connection
 *   before the old one expires.
 */
export class TokenProvider implements TokenSource {
  readonly #options: TokenProviderOptions;
  readonly #kit: TokenKit;
  readonly #timer: Timer;
  /** The fetch every caller shares until it settles (either way), or until `abandon()`. */
  #inFlight: Promise<string> | undefined;
  /** Moved by `abandon()`: a fetch started before it neither caches nor arms when it settles. */
  #epoch = 0;

  // The cached token, all three set by a fetch and cleared by `invalidate()`.
  /** `undefined`: nothing is cached. */
  #token: string | undefined;
  #expiresAt: number | undefined;
  /**
   * Wall time from which the token counts as stale: `Infinity` without
   * `expiresAt`, `-Infinity` when `expiresAt` was already past on arrival
   * (see `#arm`).
   */
  #refreshAt: number | undefined;
  #subscription: RefreshSubscription | undefined;

  /**
   * `resolveOptions` checked `getToken`, `refreshSkewMs` and
   * `platform.wallClock`. `kit`: the core's classes and helpers (see
   * token-kit.ts), as this module is loaded on demand on its own.
   */
  constructor(options: TokenProviderOptions, kit: TokenKit) {
    this.#options = options;
    this.#kit = kit;
    this.#timer = new kit.Timer(options.clock);
  }

  /**
   * The token to connect with: the cached one while it is fresh, else a new
   * one. A fetch already in flight is joined, even while the cache is fresh,
   * because it was started to replace the cached token. Resolves `undefined`
   * without `getToken`.
   *
   * @throws RealtimeError `auth_failed` (as a rejection) when `getToken` fails.
   */
  get(): Promise<string | undefined> {
    // Nothing is ever cached without `getToken`, so `refresh()` answers that case.
    return !this.#inFlight && this.#isFresh() ? Promise.resolve(this.#token) : this.refresh();
  }

  /**
   * Fetches a new token whatever the cache holds (joining a fetch already in
   * flight). Resolves `undefined` without `getToken`.
   *
   * @throws RealtimeError `auth_failed` (as a rejection) when `getToken` fails.
   */
  refresh(): Promise<string | undefined> {
    const { getToken } = this.#options;
    if (!getToken) return Promise.resolve(undefined);
    if (this.#inFlight) return this.#inFlight;
    // `getToken` runs (synchronously, up to its first await) before the slot
    // is taken: a `refresh()` from inside it starts a fetch of its own.
    const fetch = this.#fetch(getToken);
    this.#inFlight = fetch;
    // Registered before any caller can attach its own reaction, so the slot is
    // free by the time a caller's continuation runs: a caller that retries
    // straight after a failure starts a fresh fetch instead of getting the
    // failed promise again.
    const release = (): void => {
      if (this.#inFlight === fetch) this.#inFlight = undefined;
    };
    fetch.then(release, release);
    return fetch;
  }

  /**
   * Forgets the cached token, e.g. after the server answered 401 to it, so
   * the next `get()` fetches a new one. A fetch already in flight is not
   * cancelled: it was started after the cached token and its result is used.
   */
  invalidate(): void {
    this.#token = this.#expiresAt = this.#refreshAt = undefined;
    this.#timer.clear();
  }

  /** A call of `getToken` is in flight: `get()` now waits for the app's code. */
  get isFetching(): boolean {
    return this.#inFlight !== undefined;
  }

  /**
   * Stops sharing the fetch in flight (a `getToken` that has not settled
   * within the connect timeout: a token endpoint that hangs), so the next
   * `get()` or `refresh()` calls `getToken` again instead of joining a promise
   * that may never settle. Whenever the abandoned fetch settles, its callers
   * still hear of it, but it no longer touches the cache or the schedule: a
   * newer fetch may have cached a newer token by then.
   */
  abandon(): void {
    this.#epoch++;
    this.#inFlight = undefined;
  }

  /**
   * Refreshes the token `refreshSkewMs` before it expires and hands the new
   * one to `onToken` (to send `auth { token }` on a live connection). The
   * timer is re-armed after every successful fetch, whoever started it; only
   * fetches of the schedule itself call `onToken`. A failed scheduled refresh
   * is retried at half the time left before expiry while at least a second
   * is left (after that, the server's 401 leads to a new token). Tokens
   * without `expiresAt` are never refreshed on a timer. One schedule at a
   * time: a new call replaces the previous one. Returns the function that
   * cancels the schedule.
   */
  scheduleRefresh(onToken: (token: string) => void): () => void {
    // Without `getToken` nothing is ever cached, so `#arm` never arms a timer.
    const subscription: RefreshSubscription = { onToken };
    this.#subscription = subscription;
    this.#arm();
    return () => {
      if (this.#subscription !== subscription) return;
      this.#subscription = undefined;
      this.#timer.clear();
    };
  }

  /** A token is cached and not yet due for a refresh (written as "not stale", so a NaN clock reads fresh). */
  #isFresh(): boolean {
    return this.#token !== undefined && !(this.#options.wallClock() >= this.#refreshAt!);
  }

  async #fetch(getToken: GetToken): Promise<string> {
    const epoch = this.#epoch;
    let result: TokenResult;
    try {
      result = await getToken();
    } catch (cause) {
      throw authFailed(this.#kit, 'failed', cause);
    }
    const [token, expiresAt] = readTokenResult(this.#kit, result);
    // Abandoned meanwhile: a fetch started since owns the cache (see `abandon`).
    if (epoch !== this.#epoch) return token;
    const fetchedAt = this.#options.wallClock();
    this.#token = token;
    this.#expiresAt = expiresAt;
    this.#refreshAt =
      expiresAt === undefined
        ? Infinity
        : expiresAt <= fetchedAt
          ? -Infinity
          : expiresAt - Math.min(this.#options.refreshSkewMs, (expiresAt - fetchedAt) / 2);
    this.#arm();
    return token;
  }

  /** Arms the timer for the cached token's `refreshAt`. */
  #arm(): void {
    this.#timer.clear();
    // Not for a token that never expires, nor for one that was already
    // expired by our clock on arrival: that most likely means our clock is
    // wrong, not the token; the next one would look expired too, and
    // refreshing on a timer would spin. The server judges it: a 401 leads to
    // `invalidate()` and a new token.
    if (this.#subscription && Number.isFinite(this.#refreshAt))
      this.#armIn(this.#refreshAt! - this.#options.wallClock());
  }

  #armIn(delayMs: number): void {
    this.#timer.set(
      () => {
        // Woken early: the delay was clamped to the 32-bit timer limit, or the
        // wall clock moved back. Look again instead of refreshing too soon.
        if (this.#isFresh()) return this.#arm();
        // Armed only while a schedule exists, so there is one to report to, and
        // a `getToken` to refresh with: the token is a string.
        const subscription = this.#subscription!;
        this.refresh().then(
          (token) => {
            if (this.#subscription !== subscription) return;
            // What the app's callback throws goes to `reportError`, not into the schedule.
            try {
              subscription.onToken(token!);
            } catch (error) {
              this.#kit.reportListenerError(error);
            }
          },
          () => {
            if (this.#subscription !== subscription) return;
            // No expiry any more (an `invalidate()` meanwhile): NaN, so no retry.
            const retryInMs = ((this.#expiresAt ?? NaN) - this.#options.wallClock()) / 2;
            if (retryInMs >= MIN_RETRY_DELAY_MS) this.#armIn(retryInMs);
          },
        );
      },
      // Timer cuts a delay past setTimeout's limit; woken early, `#isFresh` says so.
      Math.max(0, delayMs),
    );
  }
}

/**
 * The error of every failure of `getToken`; `detail` completes the message
 * "auth.getToken …", so each message names the option the app set.
 */
function authFailed(kit: TokenKit, detail: string, cause?: unknown): RealtimeError {
  return new kit.RealtimeError('auth_failed', `auth.getToken ${detail}`, { cause });
}

/**
 * A token that fetch can send as `Authorization: Bearer <token>`, by fetch's
 * own rule for a header value (Fetch standard), so that no token it would
 * send is refused: every code unit at most U+00FF (the value is a
 * ByteString; an astral character is two code units above it), and no NUL,
 * CR or LF, except in the trailing whitespace (tab, LF, CR, space) that fetch
 * strips before its check. Not RFC 6750's strict b64token: servers accept
 * tokens well outside it, and fetch sends them. Linear time, whatever the
 * token: the first part stops at the first CR or LF, after which only
 * whitespace may follow.
 */
const SENDABLE_TOKEN = /^[^\0\n\r\u0100-\uffff]*(?:[\n\r][\t\n\r ]*)?$/;

/** Checks the shape of `getToken`'s result without ever putting the token into a message. */
function readTokenResult(kit: TokenKit, result: unknown): [token: string, expiresAt: number | undefined] {
  // A bare string is the token without an expiry.
  const { token, expiresAt } = (
    typeof result === 'object' && result !== null ? result : { token: result }
  ) as { token?: unknown; expiresAt?: unknown };
  if (typeof token !== 'string' || token === '') {
    throw authFailed(
      kit,
      `returned no token (${token === '' ? 'empty' : token === null ? 'null' : typeof token}); expected a non-empty string or { token, expiresAt? }`,
    );
  }
  // Checked here, whatever the transport: fetch would throw a TypeError that
  // reads as a network failure (the chain falls back, the breaker counts it,
  // and its message shows the token), and a WebSocket connection may fall
  // back to SSE or long-poll at any time, so a token must suit them all.
  if (!SENDABLE_TOKEN.test(token)) {
    throw authFailed(
      kit,
      `returned a token that is not a valid HTTP header value: it contains ${/[^\0-\xff]/.test(token) ? 'a character above U+00FF' : 'a line break or NUL'}`,
    );
  }
  // `null` (what JSON APIs send for "none") is no expiry, as is no field.
  if (expiresAt != null && !Number.isFinite(expiresAt)) {
    throw authFailed(kit, `returned expiresAt ${kit.describeValue(expiresAt)}; expected epoch milliseconds`);
  }
  return [token, (expiresAt ?? undefined) as number | undefined];
}
