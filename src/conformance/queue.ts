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
  /** The deadline passed first. */
  | { kind: 'timeout' };

/** Milliseconds on the monotonic clock: deadlines must not move with the wall clock. */
export const now = (): number => performance.now();

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

  /** True once the connection ended. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** The next item, or `timeout` at `deadline`. */
  next(deadline: number): Promise<Item> {
    const item = this.#items.shift() ?? (this.#ended && this.#items.length === 0 ? this.#ended : undefined);
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#waiter = undefined;
          resolve({ kind: 'timeout' });
        },
        Math.max(0, deadline - now()),
      );
      this.#waiter = (next) => {
        clearTimeout(timer);
        resolve(next);
      };
    });
  }
}
