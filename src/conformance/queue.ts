import type { ServerFrame } from '../protocol/schemas';

/** One thing a connection under check delivered, in arrival order. */
export type Item =
  /** A frame the SDK's reader accepts; over SSE with its message's `event` and (last) `id`. */
  | { kind: 'frame'; frame: ServerFrame; event?: string; id?: string }
  /** A frame the SDK's reader refuses: it would count and drop it. */
  | { kind: 'invalid'; detail: string }
  /** A long-poll answer with nothing in it: `204`, or `200` with no frames. */
  | { kind: 'empty'; status: number; elapsedMs: number }
  /** The connection ended (closed, failed, answered with an error status); a WebSocket's with its close code. */
  | { kind: 'end'; detail: string; closeCode?: number }
  /**
   * The deadline passed first. `stalledMs`: how late the checker's own event
   * loop served the deadline's timer, past {@link STALL_MS}, summed over the
   * times the deadline was moved by it (see {@link atDeadline}).
   */
  | { kind: 'timeout'; stalledMs?: number };

/** Milliseconds on the monotonic clock: deadlines must not move with the wall clock. */
export const now = (): number => performance.now();

/**
 * A deadline timer served this much later than it was due means the checker's
 * own process stalled (busy, or starved of CPU), not the backend: Node serves
 * a timer within a few ms when it is idle.
 */
export const STALL_MS = 20;

/** How many times one deadline is moved on by a stall of the checker: a bound, so that a process that stalls for good still ends its checks. */
const MAX_STALL_MOVES = 5;

/** setImmediate rounds at a deadline, each after an I/O poll of the event loop, before it is taken as passed. */
const IO_ROUNDS = 2;

/**
 * Calls `fire` once, when `deadline` (on {@link now}'s clock) has passed and
 * the checker has read what arrived by then; returns a cancel. Three things a
 * bare `setTimeout` gets wrong:
 * - Node fires a timer up to a few ms early (its loop clock is cached): it is
 *   armed again for the rest.
 * - After a stall of the process, Node runs every due timer before it polls
 *   sockets: a frame that arrived (or that a backend in the same process sent
 *   from its own due timer) is still unread when the deadline's timer runs.
 *   `fire` waits for {@link IO_ROUNDS} setImmediate rounds, each after a poll.
 * - A timer served more than {@link STALL_MS} late tells the checker stalled,
 *   and a backend sharing its machine (or its process) may have stalled as
 *   long: the deadline moves on by that stall, so a backend gets the time it
 *   was due. A backend that sends nothing still fails, that much later.
 *   `fire` is given the sum of the stalls it moved the deadline by.
 */
export function atDeadline(deadline: number, fire: (stalledMs: number) => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  let stalledMs = 0;
  let moves = 0;
  const afterIo = (rounds: number): void => {
    immediate = setImmediate(() => (rounds > 1 ? afterIo(rounds - 1) : fire(stalledMs)));
  };
  const arm = (due: number): void => {
    // A deadline already past is due now: how late it is served counts from here.
    const at = Math.max(due, now());
    timer = setTimeout(
      () => {
        const firedAt = now();
        if (firedAt < at) return arm(at);
        const late = firedAt - at;
        if (late > STALL_MS && moves < MAX_STALL_MOVES) {
          moves++;
          stalledMs += late;
          return arm(firedAt + late);
        }
        afterIo(IO_ROUNDS);
      },
      Math.ceil(at - now()),
    );
  };
  arm(deadline);
  return () => {
    clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
  };
}

/** What a connection delivered, read one item at a time with a deadline. */
export class ItemQueue {
  #items: Item[] = [];
  #ended: Item | undefined;
  #waiter: ((item: Item) => void) | undefined;

  /** Adds an item; an `end` is the last: it is handed out again on every later read. */
  push(item: Item): void {
    if (this.#ended) return;
    if (item.kind === 'end') this.#ended = item;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(item);
    } else this.#items.push(item);
  }

  /** True when nothing is waiting to be read. */
  get empty(): boolean {
    return this.#items.length === 0;
  }

  /** Takes every item waiting to be read (never the end): they were read before something the caller changes. */
  drain(): Item[] {
    return this.#items.splice(0);
  }

  /** True once the connection ended. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** The next item, or `timeout` at `deadline`. */
  next(deadline: number): Promise<Item> {
    const item = this.#items.shift() ?? (this.#ended && this.#items.length === 0 ? this.#ended : undefined);
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => {
      const cancel = atDeadline(deadline, (stalledMs) => {
        this.#waiter = undefined;
        resolve(stalledMs > 0 ? { kind: 'timeout', stalledMs } : { kind: 'timeout' });
      });
      this.#waiter = (next) => {
        cancel();
        resolve(next);
      };
    });
  }
}
