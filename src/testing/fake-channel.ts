/** A `BroadcastChannel` of a {@link BroadcastChannelHub}. */
export interface FakeBroadcastChannel extends EventTarget {
  readonly name: string;
  onmessage: ((event: MessageEvent) => void) | null;
  /** Delivers a structured clone to every other open channel of this name, in a microtask. */
  postMessage(message: unknown): void;
  /** Stops receiving; posting afterwards throws `InvalidStateError`. */
  close(): void;
}

/** A `BroadcastChannel`-compatible constructor, for `platform.BroadcastChannel`. */
export type FakeBroadcastChannelConstructor = new (name: string) => FakeBroadcastChannel;

/** One browser's worth of BroadcastChannels, in memory. */
export interface BroadcastChannelHub {
  /** Give this to every tab's `platform.BroadcastChannel`. */
  readonly BroadcastChannel: FakeBroadcastChannelConstructor;
  /** Open channels, of one name or of all. */
  openChannels(name?: string): number;
  /** Messages posted so far (by any channel of the hub). */
  readonly posted: number;
}

/**
 * A structured clone where there is one. Jest's jsdom environment has no
 * `structuredClone` (a jsdom gap); tabwire posts JSON strings only, which a
 * JSON round trip copies alike. Looked up at each call, like the timers.
 */
function clone(message: unknown): unknown {
  if (typeof globalThis.structuredClone === 'function') return globalThis.structuredClone(message);
  return message === undefined ? undefined : JSON.parse(JSON.stringify(message));
}

/**
 * Creates an in-memory BroadcastChannel hub: channels created from its
 * constructor talk to each other and to nothing else, so two hubs are two
 * browsers. Like the real one, a message reaches every other open channel of
 * the same name (never the sender), as a structured clone, asynchronously;
 * delivery uses `queueMicrotask`, which fake timers leave alone, so it works
 * under `vi.useFakeTimers()` (await `vi.advanceTimersByTimeAsync(0)` or any
 * promise to let it through).
 */
export function createBroadcastChannelHub(): BroadcastChannelHub {
  const open = new Set<Channel>();
  let posted = 0;

  class Channel extends EventTarget implements FakeBroadcastChannel {
    readonly name: string;
    onmessage: ((event: MessageEvent) => void) | null = null;
    #closed = false;

    constructor(name: string) {
      super();
      this.name = String(name);
      open.add(this);
    }

    postMessage(message: unknown): void {
      if (this.#closed) throw new DOMException('BroadcastChannel is closed.', 'InvalidStateError');
      // Throws DataCloneError for what cannot be cloned, as the real one does.
      const data = clone(message);
      posted++;
      const recipients = [...open].filter((c) => c !== this && c.name === this.name);
      // One microtask each, as browsers queue one task each: a handler that
      // throws must not keep the message from the channels after it.
      for (const recipient of recipients) queueMicrotask(() => recipient.#deliver(clone(data)));
    }

    close(): void {
      this.#closed = true;
      open.delete(this);
    }

    #deliver(data: unknown): void {
      if (this.#closed) return;
      const event = new MessageEvent('message', { data });
      this.dispatchEvent(event);
      this.onmessage?.(event);
    }
  }

  return {
    BroadcastChannel: Channel,
    openChannels: (name) => [...open].filter((c) => name === undefined || c.name === name).length,
    get posted() {
      return posted;
    },
  };
}
