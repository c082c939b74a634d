import type { Clock } from '../clock';
import { type Listener, Listeners } from '../util/emitter';
import { Timer } from './timer';

/** `closed`: attempts flow. `open`: none until the cooldown ends. `half-open`: one probe. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** What the breaker shows, e.g. in `RealtimeState.circuit`. */
export interface CircuitSnapshot {
  readonly state: CircuitState;
  /** Failures since the last success (keeps counting while open). */
  readonly consecutiveFailures: number;
  /** `clock.now()` of the latest opening; set while open or half-open. */
  readonly openedAt?: number;
}

/**
 * Options of {@link CircuitBreaker}: the `circuit` group of `createRealtime`
 * as `resolveOptions` validated it, with its defaults filled in.
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Integer ≥ 1. */
  failureThreshold: number;
  /** First open period, in ms. */
  cooldownMs: number;
  /** The open period doubles after each failed probe, up to this (≥ `cooldownMs`). */
  maxCooldownMs: number;
  /** Time source for `openedAt` and the half-open timer. */
  clock: Clock;
}

/** Defaults of {@link CircuitBreakerOptions} (`resolveOptions` applies its own, the same). */
export const DEFAULT_CIRCUIT = { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 60_000 } as const;

/**
 * A consecutive-failure circuit breaker for the connection loop.
 *
 * Consecutive, not sampling: one browser makes a handful of connection
 * attempts a minute, never the volume a failure-rate window needs to mean
 * anything.
 *
 * - closed: `failureThreshold` failures in a row open it; a success resets
 *   the count.
 * - open: `tryAcquire()` is `false`. A timer moves it to half-open after the
 *   cooldown — a timer rather than a check on the next call, so `snapshot()` and
 *   `onStateChange` always tell the truth to a UI that merely watches.
 * - half-open: `tryAcquire()` is `true` exactly once (the probe). The probe's
 *   success closes the breaker and resets the cooldown; its failure opens it
 *   again for twice the cooldown, up to `maxCooldownMs`.
 *
 * @example
 * if (!breaker.tryAcquire()) return breaker.onStateChange((to) => to === 'half-open' && retry());
 * try { await connect(); breaker.recordSuccess(); } catch { breaker.recordFailure(); }
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #timer: Timer;
  readonly #listeners = new Listeners<CircuitState>();

  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #openedAt: number | undefined;
  /**
   * The current open period, set by every opening: `#options.cooldownMs`
   * from closed, doubled from half-open. Read only in half-open, so after an
   * opening set it: a reset needs to restore nothing.
   */
  #cooldownMs = 0;
  /** Half-open only: the probe was handed out. False in every other state. */
  #probeInFlight = false;
  #disposed = false;

  /**
   * The options come validated from `resolveOptions`: integers, the open
   * period only growing from the first one (maxCooldownMs ≥ cooldownMs), and
   * within the timer limit.
   */
  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
    this.#timer = new Timer(options.clock);
  }

  /**
   * Asks to make an attempt. `true` while closed; `false` while open; in
   * half-open `true` once — the probe — and `false` until that probe reports
   * through `recordSuccess`, `recordFailure` or `releaseProbe`. Always
   * `false` after `dispose()`.
   */
  tryAcquire(): boolean {
    if (this.#disposed || this.#state === 'open' || this.#probeInFlight) return false;
    // Half-open: this caller is the probe, the next ones wait for its outcome.
    this.#probeInFlight = this.#state === 'half-open';
    return true;
  }

  /**
   * Reports a working attempt (e.g. a `welcome` frame). Closed: resets the
   * failure count. Half-open: closes the breaker and resets the cooldown.
   * Open: ignored — only a late answer of an attempt made before the
   * opening can arrive then, and the cooldown timer stays in charge.
   */
  recordSuccess(): void {
    // Closing a closed breaker only resets its count.
    if (this.#state !== 'open') this.reset();
  }

  /**
   * Reports a failed attempt. Closed: counts it and opens at the threshold.
   * Half-open: the probe failed, so it opens again with the cooldown doubled
   * (capped). Open: only counted.
   */
  recordFailure(): void {
    if (this.#disposed) return;
    this.#consecutiveFailures++;
    if (this.#state === 'half-open') this.#open(Math.min(this.#cooldownMs * 2, this.#options.maxCooldownMs));
    else if (this.#state === 'closed' && this.#consecutiveFailures >= this.#options.failureThreshold)
      this.#open(this.#options.cooldownMs);
  }

  /**
   * Gives the half-open probe back without an outcome (the attempt was
   * cancelled, e.g. by `close()`), so the next `tryAcquire()` may probe.
   * Without this, an abandoned probe would keep the breaker half-open for
   * good.
   */
  releaseProbe(): void {
    this.#probeInFlight = false;
  }

  /** The state, always the true one (see the class comment), with its counters, as a plain object. */
  snapshot(): CircuitSnapshot {
    return {
      state: this.#state,
      consecutiveFailures: this.#consecutiveFailures,
      // Absent, not `undefined`, while closed.
      ...(this.#openedAt !== undefined && { openedAt: this.#openedAt }),
    };
  }

  /**
   * Calls `listener` with the new state on every state change, after it
   * happened. Returns the unsubscribe function.
   */
  onStateChange(listener: Listener<CircuitState>): () => void {
    return this.#listeners.add(listener);
  }

  /** Back to closed with no failures and the initial cooldown (e.g. when the app changes scope). */
  reset(): void {
    if (this.#disposed) return;
    this.#consecutiveFailures = 0;
    this.#openedAt = undefined;
    this.#timer.clear();
    this.#moveTo('closed');
  }

  /** Stops the timer and drops the listeners; the breaker is inert afterwards. */
  dispose(): void {
    this.#disposed = true;
    this.#timer.clear();
    this.#listeners.clear();
  }

  #open(cooldownMs: number): void {
    this.#openedAt = this.#options.clock.now();
    this.#cooldownMs = cooldownMs;
    // Cleared by every way out of open (`reset`, `dispose`), so it fires in open only.
    this.#timer.set(() => this.#moveTo('half-open'), cooldownMs);
    this.#moveTo('open');
  }

  /** Sets the state, with no probe out, and tells the listeners if it changed. */
  #moveTo(to: CircuitState): void {
    const from = this.#state;
    this.#state = to;
    this.#probeInFlight = false;
    if (from !== to) this.#listeners.emit(to);
  }
}
