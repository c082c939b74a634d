import type { Clock } from '../clock';

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

  /** Calls `fn` after `ms`, instead of the pending timer if there is one. */
  set(fn: () => void, ms: number): void {
    this.clear();
    this.#pending = true;
    this.#handle = this.#clock.setTimeout(() => {
      this.#pending = false;
      fn();
    }, ms);
  }

  clear(): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#clock.clearTimeout(this.#handle);
  }
}
