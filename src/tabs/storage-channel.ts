import type { ChannelPort, StorageEventSource, StorageLike, TabChannelOptions } from './tab-channel';

/**
 * The localStorage fallback of TabChannel, where BroadcastChannel is missing;
 * in a module of its own, loaded with import() only there. Each message is
 * written to `${name}:msg` and removed right away, and the other tabs read it
 * from the `storage` event, which browsers fire in every other tab of the
 * origin. TabChannel sizes, parses and validates what arrives.
 *
 * Like storage-lease-election.ts, it imports nothing from the modules that
 * load it, so that bundlers keep those in the app's main chunk.
 */
export class StorageChannel implements ChannelPort {
  readonly #key: string;
  readonly #tabId: string;
  readonly #storage: StorageLike | undefined;
  readonly #window: StorageEventSource | undefined;
  readonly #unavailable: () => void;
  #sequence = 0;
  #failureReported = false;
  readonly #onStorage: (event: Event) => void;

  /**
   * @param storage `options.storage` or its default, resolved by the caller.
   * @param receive gets the envelope text of every message another tab wrote.
   * @param unavailable is told (once) that storage cannot be written.
   * @param queued the messages posted while this module loaded, sent first.
   */
  constructor(
    options: TabChannelOptions,
    storage: StorageLike | undefined,
    receive: (text: string) => void,
    unavailable: () => void,
    queued: readonly string[],
  ) {
    this.#key = `${options.name}:msg`;
    this.#tabId = options.tabId;
    this.#storage = storage;
    this.#window = options.window ?? defaultWindow();
    this.#unavailable = unavailable;
    this.#onStorage = (event) => {
      let key: unknown;
      let newValue: unknown;
      try {
        ({ key, newValue } = event as Partial<StorageEvent>);
      } catch {
        return; // not a storage event of ours
      }
      // `newValue` null is our own removal right after the write.
      if (key === this.#key && typeof newValue === 'string') receive(newValue);
    };
    this.#window?.addEventListener('storage', this.#onStorage);
    for (const json of queued) this.postMessage(json);
  }

  postMessage(json: string): void {
    this.#sequence += 1;
    // tabId + counter is unique across tabs without randomness, so two equal
    // consecutive messages still differ and each fires its own event.
    const envelope = `{"id":${JSON.stringify(`${this.#tabId}:${this.#sequence}`)},"message":${json}}`;
    try {
      // Missing storage throws here too.
      this.#storage!.setItem(this.#key, envelope);
    } catch {
      // Quota exceeded or storage denied (privacy mode). Later posts still
      // try — a quota error may be for this one large message only — but
      // the caller hears about it once, not at frame rate.
      if (!this.#failureReported) this.#unavailable();
      this.#failureReported = true;
      return;
    }
    try {
      // Removed at once: the event already carries the value, and a message
      // must not linger where a tab opened later would take it for news.
      this.#storage!.removeItem(this.#key);
    } catch {
      // The write went through; a leftover value is harmless (see above).
    }
  }

  close(): void {
    this.#window?.removeEventListener('storage', this.#onStorage);
  }
}

function defaultWindow(): StorageEventSource | undefined {
  const target = globalThis as Partial<StorageEventSource>;
  return typeof target.addEventListener === 'function' && typeof target.removeEventListener === 'function'
    ? (target as StorageEventSource)
    : undefined;
}
