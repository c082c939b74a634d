import { reportListenerError } from '../util/emitter';
import { guarded } from '../util/guarded';
import {
  CHANNEL_MESSAGE_VERSION,
  type ChannelMessage,
  type OutgoingChannelMessage,
  parseChannelMessage,
} from './channel-messages';
import { defaultStorage, type StorageLike as ElectionStorage } from './leader-election';

/** Why a message was dropped; handed to `onInvalid` so the caller can count it. */
export type ChannelInvalidReason =
  /** A received message that is not a valid message of this version (or not JSON). */
  | 'invalid_message'
  /** A message longer than `maxMessageChars`, sent or received. */
  | 'message_too_large'
  /** `post` was given something `JSON.stringify` refuses (a cycle, a BigInt). */
  | 'unserializable'
  /**
   * The storage fallback cannot write (quota, privacy mode, no storage at
   * all), or its code failed to load. Reported once.
   */
  | 'storage_unavailable'
  /** `BroadcastChannel.postMessage` threw. */
  | 'post_failed';

/** The part of `BroadcastChannel` the channel uses; injectable for tests. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  // Typed with `Event` so both the DOM class and an `EventTarget` subclass fit;
  // `data` is read defensively.
  addEventListener(type: 'message' | 'messageerror', listener: (event: Event) => void): void;
}

/** A `BroadcastChannel`-like constructor. */
export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/** The part of `localStorage` the channel's fallback writes to. */
export type StorageLike = Pick<ElectionStorage, 'setItem' | 'removeItem'>;

/** Where `storage` events arrive (the window). */
export type StorageEventSource = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

/** Options of {@link TabChannel}; checked by the client (options.ts), which builds them. */
export interface TabChannelOptions {
  /** Channel name, from `channelName()`; it carries app, org and user. */
  name: string;
  /** This tab's id (at most `MAX_TAB_ID_CHARS`, or other tabs refuse our messages); stamped as `from` on every message sent. */
  tabId: string;
  /**
   * The BroadcastChannel constructor. Default `globalThis.BroadcastChannel`;
   * `null` forces the storage fallback.
   */
  BroadcastChannel?: BroadcastChannelConstructor | null;
  /** Storage of the fallback. Default `globalThis.localStorage` (if reading it does not throw). */
  storage?: StorageLike;
  /** Source of `storage` events for the fallback. Default `globalThis` (the window). */
  window?: StorageEventSource;
  /**
   * Called with every valid message from another tab (never this tab's own,
   * never one addressed to another tab).
   */
  onMessage: (message: ChannelMessage) => void;
  /** Called with the reason of every dropped message; counted by the caller. */
  onInvalid?: (reason: ChannelInvalidReason) => void;
  /**
   * Longest message, in UTF-16 code units of its JSON text, sent or received.
   * Integer ≥ 1; the client derives it from `maxFrameChars`. Frames come from
   * the network, so an oversized one is dropped and reported, not thrown.
   */
  maxMessageChars: number;
}

/** What carries the JSON text of our messages to the other tabs: a BroadcastChannel or the storage fallback. */
export interface ChannelPort {
  postMessage(json: string): void;
  close(): void;
}

/**
 * Room for the storage envelope (`{"id":…,"message":…}`) around a message at
 * the limit: 2 × MAX_TAB_ID_CHARS (channel-messages.ts) + 64, written out
 * (esbuild would keep the product as code).
 */
const ENVELOPE_MARGIN = 320;

/**
 * The cross-tab channel: validated messages between the tabs of one browser,
 * app, org and user.
 *
 * - BroadcastChannel where present; where it is missing (or its constructor
 *   throws), a localStorage fallback (storage-channel.ts, loaded with
 *   import(): messages posted meanwhile wait for it).
 * - Messages travel as JSON text: one `JSON.stringify` gives both the size
 *   check and the payload, and a string is the cheapest thing to structured-
 *   clone (relay latency matters at 1,000 frames/s).
 * - Every received message is parsed (`parseChannelMessage`) before
 *   `onMessage` sees it; invalid ones are dropped and reported to `onInvalid`.
 *   A tab's own messages and messages addressed (`to`) to another tab are
 *   skipped silently.
 * - Nothing here throws at the caller after construction: a failing post is
 *   dropped and reported.
 *
 * @example
 * const channel = new TabChannel({
 *   name: channelName(appKey, scope),
 *   tabId,
 *   maxMessageChars,
 *   onMessage: (message) => { if (message.type === 'frame') relay(message.frame); },
 * });
 * channel.post({ type: 'hello' });
 */
export class TabChannel {
  readonly #options: TabChannelOptions;
  /**
   * Where posts go: the BroadcastChannel, or the storage fallback, which
   * until its code has loaded is a queue of what was posted meanwhile.
   */
  #port: ChannelPort;
  #closed = false;

  constructor(options: TabChannelOptions) {
    this.#options = options;

    // `null` is kept (it forces the fallback); only `undefined` means the global.
    const Ctor = (
      options.BroadcastChannel === undefined
        ? (globalThis as { BroadcastChannel?: BroadcastChannelConstructor })
        : options
    ).BroadcastChannel;
    // Throws where there is none (`null` forces the fallback) and where the
    // context refuses one (opaque origins, locked-down webviews): storage then.
    const channel = guarded<BroadcastChannelLike>(() => new Ctor!(options.name));
    if (channel) {
      this.#port = channel;
      // A hostile `data` getter: reported as invalid like no data.
      const onMessage = (event: Event): void =>
        this.#receive(guarded(() => (event as Partial<MessageEvent>).data));
      channel.addEventListener('message', onMessage);
      // What the browser could not deserialize arrives with `data` null: invalid.
      channel.addEventListener('messageerror', onMessage);
      return;
    }
    // `undefined` once the fallback failed to load: posts are dropped then.
    let queue: string[] | undefined = [];
    this.#port = { postMessage: (json) => queue?.push(json), close() {} };
    import('./storage-channel').then(
      ({ StorageChannel }) => {
        if (this.#closed) return;
        this.#port = new StorageChannel(
          options,
          options.storage ?? defaultStorage(),
          (text) => this.#receive(text, true),
          () => this.#report('storage_unavailable'),
          queue!,
        );
      },
      () => {
        queue = undefined;
        if (!this.#closed) this.#report('storage_unavailable');
      },
    );
  }

  /**
   * Sends `message` to every other tab, stamped with `v` and `from`. Never
   * throws: a message that cannot be serialized, is too long, or cannot be
   * written is dropped and reported to `onInvalid`. A no-op after `close()`.
   */
  post(message: OutgoingChannelMessage): void {
    if (this.#closed) return;
    // Spread first, stamp last, so a caller's stray `v`/`from` cannot win.
    // An object always stringifies to text, so `undefined` means it threw.
    const json = guarded<string>(() =>
      JSON.stringify({ ...message, v: CHANNEL_MESSAGE_VERSION, from: this.#options.tabId }),
    );
    if (json === undefined) this.#report('unserializable');
    else if (json.length > this.#options.maxMessageChars) this.#report('message_too_large');
    else {
      // Only a BroadcastChannel throws.
      guarded(
        () => this.#port.postMessage(json),
        () => this.#report('post_failed'),
      );
    }
  }

  /**
   * Stops sending and receiving: `onMessage` and `onInvalid` hear nothing
   * more. Calling it again is harmless. What still arrives on a closed port
   * is ignored, so its listeners need no removal.
   */
  close(): void {
    this.#closed = true;
    // Throws when the platform closed it already (page teardown): nothing left to free.
    guarded(() => this.#port.close());
  }

  /**
   * One message from another tab, as it arrived: JSON text (what we send),
   * an object (an older bundle, a script), or with `envelope` the storage
   * fallback's `{"id":…,"message":…}` text.
   */
  #receive(data: unknown, envelope?: boolean): void {
    if (this.#closed) return;
    if (typeof data === 'string') {
      if (data.length > this.#options.maxMessageChars + ENVELOPE_MARGIN) {
        this.#report('message_too_large');
        return;
      }
      data = guarded(() => JSON.parse(data as string)); // not JSON: undefined, invalid below
      if (envelope) data = (data as { message?: unknown } | null | undefined)?.message;
    }
    const message = parseChannelMessage(data);
    const tabId = this.#options.tabId;
    if (!message) this.#report('invalid_message');
    // Skipped: our own (echoed by a second instance), and those for another tab.
    else if (message.from !== tabId && (message.to ?? tabId) === tabId) {
      // The owner's bug must not break the channel.
      guarded(() => this.#options.onMessage(message), reportListenerError);
    }
  }

  #report(reason: ChannelInvalidReason): void {
    guarded(() => this.#options.onInvalid?.(reason), reportListenerError);
  }
}
