import { type Clock, systemClock } from '../clock';

/**
 * Runs writes of one connection after the fault delay (`faults.delay(ms)`),
 * in the order they were asked for even when the delay changes in between:
 * a write is never due before the one queued ahead of it. With no delay and
 * nothing queued a write runs at once, so the normal path adds no timer.
 */
export class DelayedWriter {
  private readonly queue: { due: number; write: () => void }[] = [];
  private timer: unknown;

  constructor(
    private readonly delayMs: () => number,
    private readonly clock: Clock = systemClock,
  ) {}

  run(write: () => void): void {
    const delay = this.delayMs();
    if (delay <= 0 && this.queue.length === 0) {
      write();
      return;
    }
    const last = this.queue[this.queue.length - 1];
    const due = Math.max(this.clock.now() + Math.max(0, delay), last?.due ?? 0);
    this.queue.push({ due, write });
    if (this.timer === undefined) this.schedule();
  }

  /** Drops every queued write (the connection is gone). */
  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private schedule(): void {
    const head = this.queue[0];
    if (!head) return;
    this.timer = this.clock.setTimeout(() => this.drain(), Math.max(0, head.due - this.clock.now()));
  }

  private drain(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.queue.length > 0 && (this.queue[0]?.due ?? 0) <= now) {
      this.queue.shift()?.write();
    }
    this.schedule();
  }
}
