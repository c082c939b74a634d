import type { RandomSource } from '../clock';
import { retryAfterWait } from '../util/timers';

/**
 * Options of {@link ExponentialBackoff}, as client.ts passes them: the
 * `backoff` group `resolveOptions` validated, with the floor at the base. All
 * delays in milliseconds.
 */
export interface BackoffOptions {
  /** Growth base: attempt `n` may wait up to `baseMs · 2^(n+1)`. */
  baseMs: number;
  /** No delay is shorter than this; at most `capMs`. */
  floorMs: number;
  /** No delay is longer than this (a server's `retryAfterMs`, up to 5 minutes, excepted); at least `baseMs`. */
  capMs: number;
  /** Random source in [0, 1). */
  random: RandomSource;
}

/** The validated numbers of a backoff, as {@link fullJitterDelay} takes them. */
export interface BackoffShape {
  readonly baseMs: number;
  readonly floorMs: number;
  readonly capMs: number;
}

/** Defaults of {@link BackoffOptions} (`resolveOptions` applies its own, the same). */
export const DEFAULT_BACKOFF: BackoffShape = { baseMs: 500, floorMs: 500, capMs: 20_000 };

/**
 * The exponent stops growing here. With a valid base (≥ 1 ms) the window
 * `baseMs · 2^31` already exceeds the largest valid cap (2^31 − 1 ms), so
 * stopping changes no delay; it keeps the arithmetic on small finite numbers
 * however many attempts a tab that stays open for a month makes — even an
 * unvalidated base of 0 gives `0 · 2^31 = 0`, never `0 · Infinity = NaN` —
 * and the jitter window stays `[floor, cap]` instead of collapsing.
 */
const MAX_EXPONENT = 30;

/**
 * The delay of attempt `attempt` (0-based) for a random draw `random01`:
 * "full jitter" (uniform over the whole window, which spreads a herd of
 * clients best — see the AWS Architecture Blog, "Exponential Backoff And
 * Jitter") with a floor:
 *
 *     ceiling = clamp(baseMs · 2^(min(attempt, 30) + 1), floorMs, capMs)
 *     delay   = floorMs + random01 · (ceiling − floorMs)
 *
 * The `+ 1` matters with the defaults (`floorMs = baseMs`): without it
 * attempt 0 would have a window of zero width, and every tab dropped by one
 * server restart would come back at the same millisecond. The floor keeps a
 * lucky draw of 0 from turning into a reconnect storm of 0 ms retries.
 *
 * Pure and total: any attempt (even `Infinity`; `NaN` and negatives count as
 * 0) and any draw (clamped to [0, 1], `NaN` as 0) gives a finite delay in
 * `[floorMs, capMs]`.
 */
export function fullJitterDelay(attempt: number, random01: number, shape: BackoffShape): number {
  const exponent = attempt > 0 ? Math.min(attempt, MAX_EXPONENT) : 0;
  const ceiling = Math.min(shape.capMs, Math.max(shape.floorMs, shape.baseMs * 2 ** (exponent + 1)));
  const draw = random01 > 0 ? Math.min(random01, 1) : 0;
  return shape.floorMs + draw * (ceiling - shape.floorMs);
}

/**
 * Exponential backoff with full jitter and a floor, for reconnects.
 *
 * `next()` gives the delay before the next attempt and counts it;
 * `reset()` after a connection that worked (the loop: one that lasted). With the defaults the windows
 * are 0.5–1 s, 0.5–2 s, 0.5–4 s, 0.5–8 s, 0.5–16 s, then 0.5–20 s forever.
 *
 * @example
 * const backoff = new ExponentialBackoff();
 * clock.setTimeout(reconnect, backoff.next(error.retryAfterMs));
 */
export class ExponentialBackoff {
  /** Its numbers are the shape {@link fullJitterDelay} takes. */
  readonly #options: BackoffOptions;
  #attempt = 0;

  /**
   * `resolveOptions` validated `baseMs` and `capMs` (a cap past the timer
   * limit would make setTimeout fire at once) and `platform.random`.
   */
  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  /**
   * The delay of the coming attempt and counts the attempt.
   *
   * @param minimumMs a server's `retryAfterMs`: the delay is
   *   `max(minimumMs, jittered)`, so the server is honoured and the jitter
   *   still applies when it asks for less than the backoff would wait. It
   *   comes off the wire: NaN and negatives are ignored, and no more than
   *   5 minutes of it is honoured ({@link retryAfterWait}).
   */
  next(minimumMs = 0): number {
    const jittered = fullJitterDelay(this.#attempt, this.#options.random(), this.#options);
    // Stays finite: at 2^53 `+ 1` stops changing the value, and the exponent is capped anyway.
    this.#attempt++;
    // Capped first, then compared: a wait cut to 5 minutes must not shorten a
    // longer backoff (`capMs` may be up to the timer limit).
    return Math.max(retryAfterWait(minimumMs), jittered);
  }

  /** Back to attempt 0, after a connection that worked. */
  reset(): void {
    this.#attempt = 0;
  }
}
