import { type Clock, systemClock } from '../clock';
import type { RealtimeEvent } from '../protocol/schemas';

/** A flush at or above this share of `maxBatchSize` widens the window. */
export const WIDEN_AT_FILL = 0.8;
/** A flush below this share of `maxBatchSize` narrows the window. */
export const NARROW_BELOW_FILL = 0.25;
export const WIDEN_FACTOR = 1.5;
export const NARROW_FACTOR = 0.75;

/**
 * Collects the live events of one (org, service) and hands them on in
 * batches. The window adapts between `min` and `max`: under a
 * spike it widens so fewer, fuller frames go out; when quiet it narrows back
 * so a lone event waits as little as possible. A batch that reaches
 * `maxBatchSize` is flushed at once rather than waiting for the window.
 */
export class AdaptiveBatcher {
  /** Current window in ms. */
  windowMs: number;
  private pending: RealtimeEvent[] = [];
  private timer: unknown;

  constructor(
    private readonly bounds: { min: number; max: number },
    private readonly maxBatchSize: number,
    private readonly onFlush: (events: RealtimeEvent[]) => void,
    private readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'> = systemClock,
  ) {
    this.windowMs = bounds.min;
  }

  /** Events waiting for the window to close. */
  get pendingCount(): number {
    return this.pending.length;
  }

  add(event: RealtimeEvent): void {
    this.pending.push(event);
    if (this.pending.length >= this.maxBatchSize) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = this.clock.setTimeout(() => this.flush(), this.windowMs);
    }
  }

  /** Sends what is pending now and adapts the window to its size. */
  flush(): void {
    this.clearTimer();
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.adapt(events.length);
    this.onFlush(events);
  }

  /** Drops pending events and the timer (server stopping: the log keeps the events). */
  cancel(): void {
    this.clearTimer();
    this.pending = [];
  }

  private adapt(flushed: number): void {
    if (flushed >= WIDEN_AT_FILL * this.maxBatchSize) {
      this.windowMs = Math.min(this.bounds.max, this.windowMs * WIDEN_FACTOR);
    } else if (flushed < NARROW_BELOW_FILL * this.maxBatchSize) {
      this.windowMs = Math.max(this.bounds.min, this.windowMs * NARROW_FACTOR);
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
