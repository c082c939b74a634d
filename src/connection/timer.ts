import type { Clock } from '../clock';
import { MAX_TIMER_DELAY_MS } from '../util/timers';

/**
 * At most one pending timer on an injected clock, the one shape every policy
 * here needs: `set` replaces the pending timer, `clear` cancels it. Only a
 * timer that is still pending is cleared, so a clock that reuses handles is
 * never handed one that already fired.
 */
export class Timer {
  readonly #clock: Clock;
  #handle: unknown;
  #pending = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A callback is set and has not run. */
  get pending(): boolean {
    return this.#pending;
  }

  /**
   * Calls `fn` after `ms`, instead of the pending timer if there is one. A
   * delay past what `setTimeout` holds is cut to that: the callback then
   * finds its time not yet come and waits again, instead of firing at once
   * and spinning.
   */
  set(fn: () => void, ms: number): void {
    this.clear();
    this.#pending = true;
    this.#handle = this.#clock.setTimeout(
      () => {
        this.#pending = false;
        fn();
      },
      Math.min(ms, MAX_TIMER_DELAY_MS),
    );
  }

  clear(): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#clock.clearTimeout(this.#handle);
  }
}
