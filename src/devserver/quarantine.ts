import { type Clock, systemClock } from '../clock';
import type { ResolvedDevServerOptions } from './options';

/** What a monitor reports to its connection. */
export interface QuarantineHooks {
  onEnter(): void;
  /** `shed`: the services whose frames were withheld during the quarantine. */
  onExit(shed: string[]): void;
  /** The queue passed `dropQueueBytes`: the consumer is stuck, drop the connection. */
  onStuck(): void;
}

/**
 * Slow-consumer quarantine of one connection. Every send looks at
 * the bytes still queued on the socket; `overflowsToQuarantine` sends over
 * `queueLimitBytes` within `windowMs` quarantine the connection for
 * `durationMs`, during which frames of low-tier services are withheld so the
 * critical ones still get through. It ends early once the queue has stayed at
 * or below a quarter of the limit for `healthyMs`. A queue that passes
 * `dropQueueBytes` ends the connection instead (`onStuck`). The monitor remembers which
 * services it actually withheld, so the connection can send exactly those a
 * `reset` instead of letting the client silently miss events.
 */
export class QuarantineMonitor {
  private overflowTimes: number[] = [];
  private startedAt: number | undefined;
  private healthySince: number | undefined;
  private readonly shed = new Set<string>();
  private readonly lowTier: ReadonlySet<string>;
  private timer: unknown;

  constructor(
    private readonly settings: ResolvedDevServerOptions['quarantine'],
    private readonly queuedBytes: () => number,
    private readonly hooks: QuarantineHooks,
    private readonly clock: Clock = systemClock,
  ) {
    this.lowTier = new Set(settings.lowTierServices);
  }

  get quarantined(): boolean {
    return this.startedAt !== undefined;
  }

  /**
   * Call after each write: counts an overflow when the queue is over the
   * limit, and reports a stuck consumer at `dropQueueBytes`. Shedding
   * low-tier services cannot help one that stopped reading for good: the
   * frames of its other services would pile up for as long as it stays open.
   */
  afterSend(): void {
    const queued = this.queuedBytes();
    if (queued > this.settings.dropQueueBytes) {
      this.hooks.onStuck();
      return;
    }
    if (queued <= this.settings.queueLimitBytes) return;
    const now = this.clock.now();
    this.overflowTimes = this.overflowTimes.filter((t) => now - t < this.settings.windowMs);
    this.overflowTimes.push(now);
    if (!this.quarantined && this.overflowTimes.length >= this.settings.overflowsToQuarantine)
      this.enter(now);
  }

  /** True when a frame of `service` must be withheld now. */
  shouldShed(service: string): boolean {
    if (!this.quarantined || !this.lowTier.has(service)) return false;
    this.shed.add(service);
    return true;
  }

  /** Stops the timers (connection closed). */
  dispose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.startedAt = undefined;
  }

  private enter(now: number): void {
    this.startedAt = now;
    this.healthySince = undefined;
    this.overflowTimes = [];
    this.hooks.onEnter();
    this.scheduleCheck();
  }

  // One timer does both jobs: the end of `durationMs` and the early-exit
  // check, which must look at the queue repeatedly because a drained socket
  // raises no event of its own here.
  private scheduleCheck(): void {
    const every = Math.max(5, Math.min(1000, this.settings.healthyMs / 5));
    this.timer = this.clock.setTimeout(() => this.check(), every);
  }

  private check(): void {
    this.timer = undefined;
    if (this.startedAt === undefined) return;
    const now = this.clock.now();
    if (this.queuedBytes() <= this.settings.queueLimitBytes / 4) {
      this.healthySince ??= now;
    } else {
      this.healthySince = undefined;
    }
    const healthyLongEnough =
      this.healthySince !== undefined && now - this.healthySince >= this.settings.healthyMs;
    if (healthyLongEnough || now - this.startedAt >= this.settings.durationMs) {
      this.exit();
    } else {
      this.scheduleCheck();
    }
  }

  private exit(): void {
    this.startedAt = undefined;
    const shed = [...this.shed];
    this.shed.clear();
    this.hooks.onExit(shed);
  }
}
