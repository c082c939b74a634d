import { type Clock, systemClock } from '../clock';
import { type Listener, Listeners } from '../util/emitter';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertInteger, assertNumber } from '../util/validate';

/** `closed`: attempts flow. `open`: none until the cooldown ends. `half-open`: one probe. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** What the breaker shows, e.g. in `RealtimeState.circuit`. */
export interface CircuitSnapshot {
  readonly state: CircuitState;
  /** Failures since the last success (keeps counting while open). */
  readonly consecutiveFailures: number;
  /** `clock.now()` of the latest opening; set while open or half-open. */
  readonly openedAt?: number;
  /**
   * Length of the current open period (in half-open: of the one that just
   * ended); while closed, the cooldown the next opening will use.
   */
  readonly cooldownMs: number;
}

/** Payload of {@link CircuitBreaker.onStateChange}. */
export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** The breaker right after the change. */
  readonly snapshot: CircuitSnapshot;
}

/** Options of {@link CircuitBreaker}; the `circuit` group of `createRealtime`. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Integer ≥ 1, default 3. */
  failureThreshold?: number;
  /** First open period, in ms. Default 1000. */
  cooldownMs?: number;
  /** The open period doubles after each failed probe, up to this. Default 60000. */
  maxCooldownMs?: number;
  /** Time source for `openedAt` and the half-open timer. Default {@link systemClock}. */
  clock?: Clock;
}

/** Defaults of {@link CircuitBreakerOptions}. */
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
 *   cooldown — a timer rather than a check on the next call, so `state` and
 *   `onStateChange` always tell the truth to a UI that merely watches.
 * - half-open: `tryAcquire()` is `true` exactly once (the probe). The probe's
 *   success closes the breaker and resets the cooldown; its failure opens it
 *   again for twice the cooldown, up to `maxCooldownMs`.
 *
 * @example
 * if (!breaker.tryAcquire()) return breaker.onStateChange(({ to }) => to === 'half-open' && retry());
 * try { await connect(); breaker.recordSuccess(); } catch { breaker.recordFailure(); }
 */
export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #baseCooldownMs: number;
  readonly #maxCooldownMs: number;
  readonly #clock: Clock;
  readonly #listeners = new Listeners<CircuitStateChange>();

  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #openedAt: number | undefined;
  #cooldownMs: number;
  #probeInFlight = false;
  #timer: unknown;
  #timerArmed = false;
  #disposed = false;

  /** @throws RangeError naming the field when an option is out of range. */
  constructor(options: CircuitBreakerOptions = {}) {
    const failureThreshold = options.failureThreshold ?? DEFAULT_CIRCUIT.failureThreshold;
    const cooldownMs = options.cooldownMs ?? DEFAULT_CIRCUIT.cooldownMs;
    const maxCooldownMs = options.maxCooldownMs ?? DEFAULT_CIRCUIT.maxCooldownMs;
    assertInteger('circuit.failureThreshold', failureThreshold, 1);
    assertNumber('circuit.cooldownMs', cooldownMs, 1, MAX_TIMER_DELAY_MS);
    assertNumber('circuit.maxCooldownMs', maxCooldownMs, 1, MAX_TIMER_DELAY_MS);
    if (maxCooldownMs < cooldownMs) {
      throw new RangeError(
        `circuit.maxCooldownMs must be ≥ circuit.cooldownMs (${cooldownMs}), got ${maxCooldownMs}`,
      );
    }
    this.#failureThreshold = failureThreshold;
    this.#baseCooldownMs = cooldownMs;
    this.#maxCooldownMs = maxCooldownMs;
    this.#cooldownMs = cooldownMs;
    this.#clock = options.clock ?? systemClock;
  }

  /** The current state; always the true one (see the class comment). */
  get state(): CircuitState {
    return this.#state;
  }

  /**
   * Asks to make an attempt. `true` while closed; `false` while open; in
   * half-open `true` once — the probe — and `false` until that probe reports
   * through `recordSuccess`, `recordFailure` or `releaseProbe`. Always
   * `false` after `dispose()`.
   */
  tryAcquire(): boolean {
    if (this.#disposed || this.#state === 'open') return false;
    if (this.#state === 'closed') return true;
    // Half-open: only the first caller probes.
    if (this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  /**
   * Reports a working attempt (e.g. a `welcome` frame). Closed: resets the
   * failure count. Half-open: closes the breaker and resets the cooldown.
   * Open: ignored — only a late answer of an attempt made before the
   * opening can arrive then, and the cooldown timer stays in charge.
   */
  recordSuccess(): void {
    if (this.#disposed) return;
    if (this.#state === 'closed') {
      this.#consecutiveFailures = 0;
    } else if (this.#state === 'half-open') {
      this.#close();
    }
  }

  /**
   * Reports a failed attempt. Closed: counts it and opens at the threshold.
   * Half-open: the probe failed, so it opens again with the cooldown doubled
   * (capped). Open: only counted.
   */
  recordFailure(): void {
    if (this.#disposed) return;
    this.#consecutiveFailures += 1;
    if (this.#state === 'closed') {
      if (this.#consecutiveFailures >= this.#failureThreshold) this.#open(this.#baseCooldownMs);
    } else if (this.#state === 'half-open') {
      this.#open(Math.min(this.#cooldownMs * 2, this.#maxCooldownMs));
    }
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

  /** The state with its counters, as a plain object. */
  snapshot(): CircuitSnapshot {
    const snapshot = {
      state: this.#state,
      consecutiveFailures: this.#consecutiveFailures,
      cooldownMs: this.#cooldownMs,
    };
    return this.#openedAt === undefined ? snapshot : { ...snapshot, openedAt: this.#openedAt };
  }

  /** Calls `listener` on every state change, after it happened. Returns the unsubscribe function. */
  onStateChange(listener: Listener<CircuitStateChange>): () => void {
    return this.#listeners.add(listener);
  }

  /** Back to closed with no failures and the initial cooldown (e.g. when the app changes scope). */
  reset(): void {
    if (this.#disposed) return;
    this.#close();
  }

  /** Stops the timer and drops the listeners; the breaker is inert afterwards. */
  dispose(): void {
    this.#disposed = true;
    this.#clearTimer();
    this.#listeners.clear();
  }

  #open(cooldownMs: number): void {
    const from = this.#state;
    this.#state = 'open';
    this.#openedAt = this.#clock.now();
    this.#cooldownMs = cooldownMs;
    this.#probeInFlight = false;
    this.#clearTimer();
    this.#timerArmed = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      this.#halfOpen();
    }, cooldownMs);
    this.#emit(from);
  }

  #halfOpen(): void {
    if (this.#disposed || this.#state !== 'open') return;
    this.#state = 'half-open';
    this.#probeInFlight = false;
    this.#emit('open');
  }

  #close(): void {
    const from = this.#state;
    this.#state = 'closed';
    this.#consecutiveFailures = 0;
    this.#openedAt = undefined;
    this.#cooldownMs = this.#baseCooldownMs;
    this.#probeInFlight = false;
    this.#clearTimer();
    if (from !== 'closed') this.#emit(from);
  }

  #emit(from: CircuitState): void {
    this.#listeners.emit({ from, to: this.#state, snapshot: this.snapshot() });
  }

  #clearTimer(): void {
    if (!this.#timerArmed) return;
    this.#timerArmed = false;
    this.#clock.clearTimeout(this.#timer);
  }
}
