import type { Clock } from '../clock';
import { reportListenerError } from '../util/emitter';
import { guarded } from '../util/guarded';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { assertNumber } from '../util/validate';
import { Timer } from './timer';

/** Options of {@link HeartbeatWatchdog}, from client.ts (no user option among them). */
export interface HeartbeatWatchdogOptions {
  /** Called once per `start()` when the connection is judged dead. */
  onDead: () => void;
  /** A monotonic clock, so wall-clock jumps cannot fake silence. */
  clock: Clock;
}

/**
 * Silence tolerated, in heartbeat intervals: the server sends a heartbeat
 * every interval when idle, and PROTOCOL.md calls two missed ones a dead
 * connection. The extra half interval is grace for timer jitter, a busy main
 * thread and network delay, so a heartbeat that is merely a little late is
 * not mistaken for the second miss.
 */
export const HEARTBEAT_TIMEOUT_INTERVALS = 2.5;

/**
 * Detects a dead connection by its silence: `onDead` runs once when no frame
 * arrived for 2.5 heartbeat intervals (see {@link HEARTBEAT_TIMEOUT_INTERVALS}).
 *
 * `beat()` is called for every frame, so it only stores the time: the single
 * timer is re-armed when it fires and finds a later beat, not on every
 * frame — a busy stream costs no timer churn.
 *
 * @example
 * const watchdog = new HeartbeatWatchdog({ onDead: () => connection.close() });
 * watchdog.start(welcome.heartbeatMs);
 * transport.onFrame = (frame) => { watchdog.beat(); … };
 */
export class HeartbeatWatchdog {
  readonly #options: HeartbeatWatchdogOptions;
  readonly #timer: Timer;
  /**
   * Silence after which the connection is dead: 2.5 × `heartbeatMs` while
   * watching (between `start()` and `stop()` or `onDead`), `Infinity` while
   * not, so no silence is overdue then.
   */
  #timeoutMs = Infinity;
  /** `clock.now()` of the last beat (or of `start()`). */
  #lastBeatAt = 0;

  constructor(options: HeartbeatWatchdogOptions) {
    this.#options = options;
    this.#timer = new Timer(options.clock);
  }

  /**
   * Starts (or restarts) watching, counting the start as a beat. Use the
   * `heartbeatMs` of the server's `welcome` frame.
   *
   * @throws RangeError unless `heartbeatMs` is a finite number ≥ 1 whose
   *   timeout fits a timer (default build only).
   */
  start(heartbeatMs: number): void {
    // Development-only: the welcome's `heartbeatMs` is checked where it comes
    // in (the frame reader: a positive integer) and held to the timer limit
    // by the connection loop; this only catches a caller's mistake.
    if (process.env.NODE_ENV !== 'production')
      assertNumber('heartbeatMs', heartbeatMs, 1, MAX_TIMER_DELAY_MS / HEARTBEAT_TIMEOUT_INTERVALS);
    this.#timeoutMs = heartbeatMs * HEARTBEAT_TIMEOUT_INTERVALS;
    this.beat();
    this.#check();
  }

  /**
   * Any frame from the server proves the connection alive. A beat while
   * stopped changes nothing that shows: `start()` counts as a beat of its
   * own, no timer runs while stopped, and `isOverdue` is false then whatever
   * the time.
   */
  beat(): void {
    this.#lastBeatAt = this.#options.clock.now();
  }

  /** Stops watching; `onDead` will not be called until the next `start()`. */
  stop(): void {
    this.#timeoutMs = Infinity;
    this.#timer.clear();
  }

  /**
   * Whether the silence has outlasted the timeout now, by the clock
   * alone. For a page coming back from `freeze` or the back/forward cache,
   * where timers did not run: the timer may not have fired yet although the
   * connection is long dead (the loop then reconnects at once). `false`
   * while stopped.
   */
  isOverdue(): boolean {
    return this.#options.clock.now() - this.#lastBeatAt >= this.#timeoutMs;
  }

  /**
   * Calls `onDead` if the silence has outlasted the timeout, else waits out
   * the rest of it from the last beat (all of it right after `start()`). The
   * timer runs only while running: `stop()` clears it.
   */
  #check(): void {
    const silentForMs = this.#options.clock.now() - this.#lastBeatAt;
    if (silentForMs >= this.#timeoutMs) {
      this.stop();
      guarded(() => this.#options.onDead(), reportListenerError);
    } else this.#timer.set(() => this.#check(), this.#timeoutMs - silentForMs);
  }
}
