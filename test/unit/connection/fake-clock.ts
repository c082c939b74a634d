import type { Clock } from '../../../src/clock';

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A deterministic Clock for policy tests: time moves only through
 * `advance`, timers fire in due order (ties by creation), and a timer armed
 * by a firing timer fires in the same `advance` if it is due. `wall` is a
 * WallClock running in step, offset by `wallOffset` (epoch ms).
 */
export class FakeClock implements Clock {
  #now = 0;
  #nextId = 1;
  #timers = new Map<number, FakeTimer>();
  /** Every delay passed to `setTimeout`, in order. */
  readonly delays: number[] = [];
  wallOffset: number;

  constructor(wallOffset = 1_700_000_000_000) {
    this.wallOffset = wallOffset;
  }

  readonly wall = (): number => this.#now + this.wallOffset;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`FakeClock: bad delay ${ms}`);
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + ms, fn });
    this.delays.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer. */
  nextDueAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.#timers.values())
      if (earliest === undefined || timer.at < earliest) earliest = timer.at;
    return earliest;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let due: FakeTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (
          timer.at <= target &&
          (due === undefined || timer.at < due.at || (timer.at === due.at && timer.id < due.id))
        ) {
          due = timer;
        }
      }
      if (due === undefined) break;
      this.#timers.delete(due.id);
      this.#now = due.at;
      due.fn();
    }
    this.#now = target;
  }
}

/** Lets pending promise reactions run (several turns, for chained awaits). */
export async function flushPromises(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
