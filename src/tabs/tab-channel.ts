import { type Listener, Listeners, reportListenerError } from '../util/emitter';
import { assertFunction, assertInteger, assertString } from '../util/validate';
import {
  CHANNEL_MESSAGE_VERSION,
  type ChannelMessage,
  MAX_TAB_ID_CHARS,
  type OutgoingChannelMessage,
  parseChannelMessage,
} from './channel-messages';
import { defaultStorage, type StorageLike as ElectionStorage } from './leader-election';

/** How a {@link TabChannel} reaches the other tabs. */
export type ChannelTransport = 'broadcast-channel' | 'storage';

/** Why a message was dropped; handed to `onInvalid` so the caller can count it. */
export type ChannelInvalidReason =
  /** A received message that is not a valid message of this version (or not JSON). */
  | 'invalid_message'
  /** A message longer than `maxMessageChars`, sent or received. */
  | 'message_too_large'
  /** `post` was given something `JSON.stringify` refuses (a cycle, a BigInt). */
  | 'unserializable'
  /** The storage fallback cannot write (quota, privacy mode, no storage at all). Reported once. */
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
  removeEventListener(type: 'message' | 'messageerror', listener: (event: Event) => void): void;
}

/** A `BroadcastChannel`-like constructor. */
export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/** The part of `localStorage` the channel's fallback writes to. */
export type StorageLike = Pick<ElectionStorage, 'setItem' | 'removeItem'>;

/** Where `storage` events arrive (the window). */
export type StorageEventSource = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

/** Options of {@link TabChannel}. */
export interface TabChannelOptions {
  /** Channel name, from `channelName()`; it carries app, org and user. */
  name: string;
  /** This tab's id; stamped as `from` on every message sent. */
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
  /** Called with the reason of every dropped message; counted by the caller. */
  onInvalid?: (reason: ChannelInvalidReason) => void;
  /**
   * Longest message, in UTF-16 code units of its JSON text, sent or received.
   * Integer ≥ 1, default 1 MiB (1,048,576). Frames come from the network, so
   * an oversized one is dropped and reported, not thrown.
   */
  maxMessageChars?: number;
}

/** Default of {@link TabChannelOptions.maxMessageChars}. */
export const DEFAULT_MAX_MESSAGE_CHARS = 1024 * 1024;

/** What the storage fallback writes: the id makes every write a change, so every write fires an event. */
interface StorageEnvelope {
  id: string;
  message: unknown;
}

/**
 * The cross-tab channel: validated messages between the tabs of one browser,
 * app, org and user.
 *
 * - BroadcastChannel where present; where it is missing (or its constructor
 *   throws), a localStorage fallback: each message is written to
 *   `${name}:msg` and removed right away, and the other tabs read it from the
 *   `storage` event, which browsers fire in every other tab of the origin.
 * - Messages travel as JSON text: one `JSON.stringify` gives both the size
 *   check and the payload, and a string is the cheapest thing to structured-
 *   clone (relay latency matters at 1,000 frames/s).
 * - Every received message is parsed (`parseChannelMessage`) before a
 *   listener sees it; invalid ones are dropped and reported to `onInvalid`.
 *   A tab's own messages and messages addressed (`to`) to another tab are
 *   skipped silently.
 * - Nothing here throws at the caller after construction: a failing post is
 *   dropped and reported.
 *
 * @example
 * const channel = new TabChannel({ name: channelName(appKey, scope), tabId });
 * channel.onMessage((message) => { if (message.type === 'frame') relay(message.frame); });
 * channel.post({ type: 'hello' });
 */
export class TabChannel {
  /** How this channel reaches the other tabs, resolved at construction. */
  readonly transport: ChannelTransport;

  readonly #tabId: string;
  readonly #storageKey: string;
  readonly #maxMessageChars: number;
  readonly #onInvalid: ((reason: ChannelInvalidReason) => void) | undefined;
  readonly #listeners = new Listeners<ChannelMessage>();
  readonly #channel: BroadcastChannelLike | undefined;
  readonly #storage: StorageLike | undefined;
  readonly #window: StorageEventSource | undefined;

  #sequence = 0;
  #storageFailureReported = false;
  #closed = false;

  readonly #onChannelMessage = (event: Event): void => {
    this.#receive(readData(event));
  };

  readonly #onChannelMessageError = (): void => {
    // The browser could not deserialize what another context posted.
    this.#report('invalid_message');
  };

  readonly #onStorageEvent = (event: Event): void => {
    let key: unknown;
    let newValue: unknown;
    try {
      ({ key, newValue } = event as Partial<StorageEvent>);
    } catch {
      return; // not a storage event of ours
    }
    // `newValue` null is our own removal right after the write.
    if (key !== this.#storageKey || newValue === null || newValue === undefined) return;
    const envelope = this.#decode(newValue);
    if (envelope === undefined) return;
    let message: unknown;
    try {
      message = (envelope as Partial<StorageEnvelope>).message;
    } catch {
      this.#report('invalid_message');
      return;
    }
    this.#accept(message);
  };

  /** @throws RangeError naming the field when an option is invalid. */
  constructor(options: TabChannelOptions) {
    assertString('name', options.name, { nonEmpty: true });
    assertString('tabId', options.tabId, { nonEmpty: true });
    if (options.tabId.length > MAX_TAB_ID_CHARS) {
      throw new RangeError(
        `tabId must be at most ${MAX_TAB_ID_CHARS} characters, got ${options.tabId.length}`,
      );
    }
    const maxMessageChars = options.maxMessageChars ?? DEFAULT_MAX_MESSAGE_CHARS;
    assertInteger('maxMessageChars', maxMessageChars, 1);
    if (options.onInvalid !== undefined) assertFunction('onInvalid', options.onInvalid);

    this.#tabId = options.tabId;
    this.#storageKey = `${options.name}:msg`;
    this.#maxMessageChars = maxMessageChars;
    this.#onInvalid = options.onInvalid;

    const channel = openBroadcastChannel(options.name, options.BroadcastChannel);
    if (channel !== undefined) {
      this.transport = 'broadcast-channel';
      this.#channel = channel;
      channel.addEventListener('message', this.#onChannelMessage);
      channel.addEventListener('messageerror', this.#onChannelMessageError);
      return;
    }
    this.transport = 'storage';
    this.#storage = options.storage ?? defaultStorage();
    this.#window = options.window ?? defaultWindow();
    this.#window?.addEventListener('storage', this.#onStorageEvent);
  }

  /**
   * Sends `message` to every other tab, stamped with `v` and `from`. Never
   * throws: a message that cannot be serialized, is too long, or cannot be
   * written is dropped and reported to `onInvalid`. A no-op after `close()`.
   */
  post(message: OutgoingChannelMessage): void {
    if (this.#closed) return;
    let json: string;
    try {
      // Spread first, stamp last, so a caller's stray `v`/`from` cannot win.
      json = JSON.stringify({ ...message, v: CHANNEL_MESSAGE_VERSION, from: this.#tabId });
    } catch {
      this.#report('unserializable');
      return;
    }
    if (json.length > this.#maxMessageChars) {
      this.#report('message_too_large');
      return;
    }
    if (this.#channel !== undefined) {
      try {
        this.#channel.postMessage(json);
      } catch {
        this.#report('post_failed');
      }
      return;
    }
    this.#postToStorage(json);
  }

  /**
   * Calls `listener` with every valid message from another tab (never this
   * tab's own, never one addressed to another tab). Returns the unsubscribe
   * function.
   */
  onMessage(listener: Listener<ChannelMessage>): () => void {
    return this.#listeners.add(listener);
  }

  /** Stops sending and receiving and drops the listeners. Calling it again is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    if (this.#channel !== undefined) {
      this.#channel.removeEventListener('message', this.#onChannelMessage);
      this.#channel.removeEventListener('messageerror', this.#onChannelMessageError);
      try {
        this.#channel.close();
      } catch {
        // Already closed by the platform (page teardown): nothing left to free.
      }
    }
    this.#window?.removeEventListener('storage', this.#onStorageEvent);
  }

  #postToStorage(json: string): void {
    const storage = this.#storage;
    if (storage === undefined) {
      this.#reportStorageFailure();
      return;
    }
    this.#sequence += 1;
    // tabId + counter is unique across tabs without randomness, so two equal
    // consecutive messages still differ and each fires its own event.
    const envelope = `{"id":${JSON.stringify(`${this.#tabId}:${this.#sequence}`)},"message":${json}}`;
    try {
      storage.setItem(this.#storageKey, envelope);
    } catch {
      // Quota exceeded or storage denied (privacy mode). Later posts still
      // try — a quota error may be for this one large message only — but
      // the caller hears about it once, not at frame rate.
      this.#reportStorageFailure();
      return;
    }
    try {
      // Removed at once: the event already carries the value, and a message
      // must not linger where a tab opened later would take it for news.
      storage.removeItem(this.#storageKey);
    } catch {
      // The write went through; a leftover value is harmless (see above).
    }
  }

  #receive(data: unknown): void {
    if (this.#closed) return;
    if (typeof data === 'string') {
      const value = this.#decode(data);
      if (value !== undefined) this.#accept(value);
      return;
    }
    // Another poster (an older bundle, a script) may send objects.
    this.#accept(data);
  }

  /** JSON text → value, or `undefined` after reporting why not. */
  #decode(text: unknown): unknown {
    if (typeof text !== 'string') {
      this.#report('invalid_message');
      return undefined;
    }
    if (text.length > this.#maxMessageChars + STORAGE_ENVELOPE_MARGIN) {
      this.#report('message_too_large');
      return undefined;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null) return value;
    } catch {
      // not JSON: reported below
    }
    this.#report('invalid_message');
    return undefined;
  }

  #accept(data: unknown): void {
    if (this.#closed) return;
    const message = parseChannelMessage(data);
    if (message === undefined) {
      this.#report('invalid_message');
      return;
    }
    if (message.from === this.#tabId) return; // our own, echoed by a second instance
    if (message.to !== undefined && message.to !== this.#tabId) return; // for another tab
    this.#listeners.emit(message);
  }

  #reportStorageFailure(): void {
    if (this.#storageFailureReported) return;
    this.#storageFailureReported = true;
    this.#report('storage_unavailable');
  }

  #report(reason: ChannelInvalidReason): void {
    if (this.#onInvalid === undefined) return;
    try {
      this.#onInvalid(reason);
    } catch (error) {
      // The counter's bug must not break the channel.
      reportListenerError(error);
    }
  }
}

/** Room for the storage envelope (`{"id":…,"message":…}`) around a message at the limit. */
const STORAGE_ENVELOPE_MARGIN = MAX_TAB_ID_CHARS * 2 + 64;

function openBroadcastChannel(
  name: string,
  option: BroadcastChannelConstructor | null | undefined,
): BroadcastChannelLike | undefined {
  const Ctor =
    option === undefined
      ? (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel
      : option;
  if (typeof Ctor !== 'function') return undefined;
  try {
    return new Ctor(name);
  } catch {
    // Some contexts (opaque origins, locked-down webviews) refuse it: fall back.
    return undefined;
  }
}

function defaultWindow(): StorageEventSource | undefined {
  const target = globalThis as Partial<StorageEventSource>;
  return typeof target.addEventListener === 'function' && typeof target.removeEventListener === 'function'
    ? (target as StorageEventSource)
    : undefined;
}

function readData(event: Event): unknown {
  try {
    return (event as Partial<MessageEvent>).data;
  } catch {
    return undefined;
  }
}
