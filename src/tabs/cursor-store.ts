import type { Clock, WallClock } from '../clock';
import type { Cursor } from '../protocol/schemas';

/** The IndexedDB database every scope of every app in the origin shares. */
export const CURSOR_DB_NAME = 'tabwire-cursor';
/** The one object store; out-of-line keys, the key is the store's `name`. */
export const CURSOR_STORE_NAME = 'cursors';
/** Schema version of the database; bumping it runs `onupgradeneeded`. */
const DB_VERSION = 1;

/** Options of {@link CursorStore}. */
export interface CursorStoreOptions {
  /**
   * Key of the record, already scoped so other users and orgs of the origin
   * never read it: e.g. `channelName(appKey, scope)`. Non-empty.
   */
  name: string;
  /** The IndexedDB to use. Default `globalThis.indexedDB`; absent → the store is a no-op. */
  indexedDB?: IDBFactory;
  /**
   * Where `flush()` also writes the latest cursor synchronously, under
   * `${name}:unload:<store id>` (see {@link CursorStore}). Default
   * `globalThis.localStorage` (if reading it does not throw). Absent, or
   * without `length` and `key` (the platform's storage need not have them) →
   * flushes write IndexedDB only.
   */
  storage?: PlatformStorage;
  /**
   * Reads a cursor that came from storage or from the caller: the cursor, or
   * `undefined` when the value is not one. The client passes the protocol's
   * `readCursor`; injected so this lazily loaded module shares no code with
   * the core (a shared chunk would cost every app a request and bytes).
   */
  read: (value: unknown) => Cursor | undefined;
  /** Timers for coalescing and the open timeout. */
  clock: Clock;
  /** Wall clock for `savedAt` (which of a record and an unload entry is newer). Default `Date.now`. */
  now?: WallClock;
  /** Random source of the store's own unload-entry key. Default `Math.random`. */
  random?: () => number;
  /** Saves within this many ms become one write. ≥ 0, default 250. */
  writeDelayMs?: number;
  /**
   * An open that has not settled after this many ms is given up and the store
   * becomes a no-op (some Safari versions never answer the first open).
   * ≥ 1, default 5000.
   */
  openTimeoutMs?: number;
}

/** Defaults of {@link CursorStoreOptions}. */
export const DEFAULT_CURSOR_STORE = { writeDelayMs: 250, openTimeoutMs: 5000 } as const;

/** The stored value. `v` lets a later format be told apart instead of misread. */
interface StoredRecord {
  v: 1;
  cursor: Cursor;
  /** Wall time at which `cursor` was the writer's. */
  savedAt: number;
  /**
   * `savedAt` of the last write that replaced the cursor (a server reset).
   * Absent in records of older versions: then `savedAt` stands for it.
   */
  resetAt?: number;
}

/** The part of `localStorage` the store uses; any call may throw (quota, blocked storage). */
export interface UnloadStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A storage as the platform may give it: {@link UnloadStorage}, maybe without `length` and `key`. */
export type PlatformStorage = Omit<UnloadStorage, 'length' | 'key'> &
  Partial<Pick<UnloadStorage, 'length' | 'key'>>;

/**
 * The cursor `flush()` left in `localStorage`. `replace`: a `replace` it
 * holds may not be in IndexedDB yet, so it overwrites the record there
 * instead of max-merging into it.
 */
interface UnloadEntry extends StoredRecord {
  replace: boolean;
}

/** What the next write will do. */
interface PendingWrite {
  cursor: Cursor;
  /** Overwrite the stored cursor instead of max-merging into it. */
  replace: boolean;
}

/**
 * The protocol's cursor reader skips an own `__proto__` key rather than
 * failing, so a cursor carrying one would load as a cursor that lost a
 * service. Such a value is not something tabwire wrote: reject it whole.
 */
function hasOwnProtoKey(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__');
}

function parseRecord(value: unknown, read: CursorStoreOptions['read']): StoredRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { v, cursor, savedAt } = value as Partial<Record<keyof StoredRecord, unknown>>;
  if (v !== 1 || typeof savedAt !== 'number' || !Number.isFinite(savedAt) || hasOwnProtoKey(cursor)) {
    return undefined;
  }
  const parsed = read(cursor);
  const { resetAt } = value as { resetAt?: unknown };
  return (
    parsed && {
      v,
      cursor: parsed,
      savedAt,
      resetAt: typeof resetAt === 'number' && Number.isFinite(resetAt) ? resetAt : savedAt,
    }
  );
}

function parseEntry(json: string | null, read: CursorStoreOptions['read']): UnloadEntry | undefined {
  if (json === null) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    const record = parseRecord(value, read);
    return record && { ...record, replace: (value as { replace?: unknown }).replace === true };
  } catch {
    return undefined;
  }
}

/**
 * Services of the stored cursor that a write keeps though the writer's cursor
 * has none of them: what one tab does not hold yet (a service just added to
 * the union), and what the pipelines forgot (they keep the 64 that left the
 * union last, LEFT_SERVICES_MAX). Without a bound, a page that subscribes one
 * service per document it opens kept every document in the record for good,
 * and every write rewrote them all.
 */
const STORED_ONLY_MAX = 64;

/**
 * Per service the larger seq. Every service of `next` is kept, and put last,
 * so the record lists services by when a tab last held them; of those only
 * `base` has, the `keep` held last.
 */
function maxMerge(base: Cursor, next: Cursor, keep: number): Cursor {
  const merged: Cursor = {};
  const only = Object.keys(base).filter((service) => !Object.hasOwn(next, service));
  for (const service of only.slice(only.length - keep)) merged[service] = base[service]!;
  for (const service of Object.keys(next)) {
    const seq = next[service]!;
    // Own keys only: a service may be named `toString`, and Math.max of the
    // inherited function is NaN, which made the whole record unreadable.
    merged[service] = Object.hasOwn(base, service) ? Math.max(base[service]!, seq) : seq;
  }
  return merged;
}

function defaultIndexedDB(): IDBFactory | undefined {
  // Reading the global can itself throw (sandboxed iframes, blocked storage).
  try {
    return typeof indexedDB === 'undefined' ? undefined : indexedDB;
  } catch {
    return undefined;
  }
}

// The given storage, else the global one, if it can list its keys. Entries
// written where they cannot be found again would pile up, never taken.
// `length` is looked for, not read: a storage blocked now may not be later,
// and each of its calls is guarded where it is made.
function unloadStorage(given: PlatformStorage | undefined): UnloadStorage | undefined {
  // Reading the global can itself throw (sandboxed iframes, blocked storage).
  try {
    const storage = given ?? (globalThis as { localStorage?: PlatformStorage }).localStorage;
    return typeof storage?.key === 'function' && 'length' in storage ? (storage as UnloadStorage) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The browser's shared cursor (`{ [service]: seq }`) kept in IndexedDB per
 * scope, so an app reopened after every tab was closed resumes within the
 * server's replay window instead of starting from now (opt-in:
 * `persistCursor: true`).
 *
 * - Saves are coalesced: the first `save` arms a `writeDelayMs` timer and the
 *   write then stores the latest cursor, so a busy stream costs one write per
 *   window, not one per batch.
 * - Every write is a read-modify-write in one `readwrite` transaction taking
 *   the per-service max of the stored and the new cursor. IndexedDB runs
 *   overlapping readwrite transactions on one store one after the other, so
 *   a lagging tab that writes last cannot move the stored cursor backwards.
 * - `replace` is the one way back: after a server `reset` the cursor it
 *   sends is the truth even where it is lower.
 * - Services the writing tab holds no cursor of are kept for the
 *   {@link STORED_ONLY_MAX} held last only, so the record stays bounded as
 *   the pipelines' state is.
 * - Persistence is best effort. No IndexedDB, an open that fails, is blocked
 *   or hangs (private modes), a quota error: the store quietly does nothing
 *   and `load()` gives `undefined`. Nothing here ever throws into the app;
 *   the worst outcome is a replay from the server's current position.
 * - What is read is parsed with the injected `read`; a corrupt or foreign value
 *   loads as `undefined` and is overwritten by the next write.
 * - `flush()` (called on `pagehide`) also writes the tab's latest cursor to
 *   `localStorage` (`${name}:unload:<store id>`), synchronously: Chromium
 *   aborts the IndexedDB transactions of a document it unloads, so without
 *   it a reload or reopen replayed what came after the last coalesced
 *   write. Saves after it update it too, until a write commits (after
 *   `flush(true)`, the page's last, for good). The next
 *   `load()` folds every such entry of the scope into the record and removes
 *   them (see #takeEntries); without a working IndexedDB it removes them
 *   only, so they do not pile up, but for the newest replace (#keepReset).
 *
 * @example
 * const store = new CursorStore({ name: channelName(appKey, scope), read: readCursor, clock });
 * const resumeFrom = await store.load();
 * pipeline.onCursor((cursor) => store.save(cursor));
 * addEventListener('pagehide', () => void store.flush(true));
 */
export class CursorStore {
  readonly #name: string;
  readonly #read: CursorStoreOptions['read'];
  readonly #factory: IDBFactory | undefined;
  readonly #storage: UnloadStorage | undefined;
  readonly #clock: Clock;
  readonly #now: WallClock;
  readonly #writeDelayMs: number;
  readonly #openTimeoutMs: number;

  #db: Promise<IDBDatabase | undefined> | undefined;
  #pending: PendingWrite | undefined;
  /** Writes run one after another; this is the tail of that queue. Never rejects. */
  #queue: Promise<void> = Promise.resolve();
  #timer: unknown;
  #timerArmed = false;
  #closed = false;
  /** The tab's cursor as last saved or replaced (written or not), for the unload entry. */
  #latest: Cursor | undefined;
  /** `replace()` calls, and how many of them a committed write holds. */
  #replaces = 0;
  #replacesWritten = 0;
  /**
   * This store's own key: tabs unloading at once (a browser quitting) each
   * write from their own process's copy of localStorage, so with one shared
   * key the last write would drop what the others delivered.
   */
  readonly #entryKey: string;
  /**
   * Since the last flush no write has committed: saves update the unload
   * entry too. A page being closed still handles frames after `pagehide`
   * (seen in Chromium on `page.close()`), and its writes never commit.
   */
  #entryDue = false;
  /**
   * `flush(true)` (or `flush(1)`) was called: the page is unloaded for
   * good, and every save updates the entry until it dies. Its pagehide
   * write may well commit (seen in Chromium on `page.close()`), and the
   * frames it handles after that were then only in the coalesced write,
   * which never ran.
   */
  #unloading = false;
  /** `flush()` calls: a write taken after the last one holds what its entry has. */
  #flushes = 0;

  // Made by the client from options validated once in createRealtime.
  constructor(options: CursorStoreOptions) {
    const writeDelayMs = options.writeDelayMs ?? DEFAULT_CURSOR_STORE.writeDelayMs;
    const openTimeoutMs = options.openTimeoutMs ?? DEFAULT_CURSOR_STORE.openTimeoutMs;
    this.#name = options.name;
    this.#read = options.read;
    this.#factory = options.indexedDB ?? defaultIndexedDB();
    this.#storage = unloadStorage(options.storage);
    this.#entryKey = `${options.name}:unload:${(options.random ?? Math.random)().toString(36).slice(2)}`;
    this.#clock = options.clock;
    this.#now = options.now ?? Date.now;
    this.#writeDelayMs = writeDelayMs;
    this.#openTimeoutMs = openTimeoutMs;
  }

  /**
   * The stored cursor of this scope, with what unloading pages left in
   * localStorage folded in, or `undefined` when there is none, it does not
   * parse, or IndexedDB is missing or failing. Never rejects.
   */
  async load(): Promise<Cursor | undefined> {
    if (this.#closed) return undefined;
    const db = await this.#database();
    // Taken (and then dropped) without a database too: left in place, each
    // page of a browser whose IndexedDB is missing or fails for good (a
    // private window of Firefox before 115, a corrupt profile, Node with a
    // `platform.storage`) added an entry no load ever removed, until
    // localStorage was full. Dropped, they cost a replay of their last
    // moments (at least once), as the missing record does; all but the
    // newest replace, which stays (see #keepReset).
    const entries = this.#takeEntries();
    if (db === undefined) {
      this.#keepReset(entries);
      return undefined;
    }
    return new Promise<Cursor | undefined>((resolve) => {
      try {
        // Read, fold the entries in and put in one transaction, so no other
        // tab's write (a reset's replace) lands between the read and the put.
        const tx = db.transaction(CURSOR_STORE_NAME, entries.length > 0 ? 'readwrite' : 'readonly');
        const store = tx.objectStore(CURSOR_STORE_NAME);
        const request = store.get(this.#name);
        request.onsuccess = () => {
          const record = parseRecord(request.result, this.#read);
          let cursor = record?.cursor;
          let savedAt = record?.savedAt ?? -Infinity;
          // 0 (never reset), as #write stores it: -Infinity, put below for
          // a scope without a record, read back as no number, so as a reset
          // at `savedAt`, and an entry older than that was dropped though
          // no reset ever came.
          let resetAt = record?.resetAt ?? 0;
          // An entry saved before the record's last reset is dropped: its
          // seqs may be of the epoch before it (higher), and would push the
          // cursor back above the new head. The others hold what the record
          // may lack (the moments after a page's last coalesced write, while
          // another tab, behind it, wrote on) and fold in oldest first, as
          // their writes would have: max-merged, and a replace newer than
          // the record (never committed) overwriting it.
          const kept = entries.filter((entry) => entry.savedAt >= resetAt);
          for (const entry of kept) {
            const overwrite = entry.replace && entry.savedAt >= savedAt;
            cursor =
              cursor === undefined || overwrite
                ? entry.cursor
                : maxMerge(cursor, entry.cursor, STORED_ONLY_MAX);
            if (overwrite) resetAt = entry.savedAt;
            savedAt = Math.max(savedAt, entry.savedAt);
          }
          resolve(cursor);
          if (kept.length === 0 || cursor === undefined) return;
          try {
            store.put({ v: 1, cursor, savedAt, resetAt } satisfies StoredRecord, this.#name);
          } catch {
            // Not kept; this tab saves its cursor again soon.
          }
        };
        request.onerror = (event) => {
          event.preventDefault();
          resolve(undefined);
        };
        tx.onabort = () => resolve(undefined);
      } catch {
        resolve(undefined);
      }
    });
  }

  /**
   * Records `cursor` (this tab's whole cursor) for the next coalesced write.
   * Within one window the saves are max-merged (a service the later one
   * lacks was forgotten meanwhile), and the write max-merges into what is
   * stored, so no service ever moves backwards here (use {@link replace} for
   * that).
   * An invalid cursor is ignored. No-op after `close()`.
   */
  save(cursor: Cursor): void {
    const valid = this.#accept(cursor);
    if (valid === undefined) return;
    this.#pending =
      this.#pending === undefined
        ? { cursor: valid, replace: false }
        : // The tab's own later cursor: what it no longer holds, its pipeline forgot.
          { cursor: maxMerge(this.#pending.cursor, valid, 0), replace: this.#pending.replace };
    this.#latest = this.#pending.cursor;
    if (this.#entryDue) this.#writeEntry();
    this.#arm();
  }

  /**
   * Records `cursor` to overwrite the stored one at the next write, moving
   * services backwards if need be: after a server `reset` its cursor is the
   * truth. Saves after it in the same window merge into it as usual.
   * An invalid cursor is ignored. No-op after `close()`.
   */
  replace(cursor: Cursor): void {
    const valid = this.#accept(cursor);
    if (valid === undefined) return;
    this.#pending = { cursor: valid, replace: true };
    this.#latest = valid;
    this.#replaces++;
    if (this.#entryDue) this.#writeEntry();
    this.#arm();
  }

  /**
   * Writes what is pending now (e.g. on `pagehide`) and resolves once it
   * and every earlier write are done; first writes the latest cursor to
   * `localStorage`, synchronously, as an unloading page's IndexedDB write
   * is not committed. Saves after it write there too: until a write
   * commits, or, with `unloading` (a `pagehide` not into the back/forward
   * cache), for good. Never rejects. (The client passes 1, not `true`:
   * `!0` cost the core a gzipped byte over its size ceilings.)
   */
  flush(unloading: boolean | 1 = false): Promise<void> {
    this.#disarm();
    this.#flushes++;
    this.#entryDue = true;
    if (unloading) this.#unloading = true;
    this.#writeEntry();
    return this.#drain();
  }

  /** Flushes, then closes the database; the store is inert afterwards. Never rejects. */
  async close(): Promise<void> {
    if (this.#closed) return this.#queue;
    const flushed = this.flush();
    // Closed now, not once flushed (the flush has what was pending): a save
    // after close(), from a handler that closed the client mid-frame, armed
    // a write timer on the closing store, and a load() opened a transaction.
    this.#closed = true;
    await flushed;
    const db = await this.#db;
    db?.close();
    this.#db = Promise.resolve(undefined);
  }

  // Parses the caller's cursor: one written invalid would make every later
  // load() see a corrupt record, and a copy keeps later mutation by the
  // caller out of the pending write.
  #accept(cursor: Cursor): Cursor | undefined {
    if (this.#closed || hasOwnProtoKey(cursor)) return undefined;
    const parsed = this.#read(cursor);
    return parsed && { ...parsed };
  }

  // Always, not only on unload: the store cannot tell, and the other
  // flushes (leaving, close) are rare. Also when nothing is pending: a write
  // still in flight is aborted all the same.
  #writeEntry(): void {
    const cursor = this.#latest;
    if (cursor === undefined || this.#closed) return;
    const entry: UnloadEntry = {
      v: 1,
      cursor,
      savedAt: this.#now(),
      replace: this.#replaces > this.#replacesWritten,
    };
    try {
      this.#storage?.setItem(this.#entryKey, JSON.stringify(entry));
    } catch {
      // Full or blocked storage: the IndexedDB record, a little behind, stays.
    }
  }

  // Every entry of the scope (of every tab, this one's too), oldest first,
  // removed as it is read: folded into the record, it has done its part, and
  // one left behind would be weighed again at every load. A corrupt or
  // foreign value is removed the same way.
  #takeEntries(): UnloadEntry[] {
    const storage = this.#storage;
    const entries: UnloadEntry[] = [];
    if (storage === undefined) return entries;
    try {
      const prefix = `${this.#name}:unload:`;
      const keys: string[] = [];
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        if (key?.startsWith(prefix)) keys.push(key);
      }
      for (const key of keys) {
        const entry = parseEntry(storage.getItem(key), this.#read);
        storage.removeItem(key);
        if (entry) entries.push(entry);
      }
    } catch {
      // Blocked storage: what was read so far is used.
    }
    return entries.sort((a, b) => a.savedAt - b.savedAt);
  }

  // Puts the newest replace of `entries` back (under a key of this store's,
  // not the one its own flush overwrites). Dropped, it was no replay: the
  // record, which a page with a working database may have (an open that
  // timed out, Safari's first), then kept the old epoch's seqs, which the
  // server reads against the new epoch's head, skipping its events up to
  // them. One entry at most: each load takes it and puts it back, until one
  // with a database folds it in.
  #keepReset(entries: UnloadEntry[]): void {
    let reset: UnloadEntry | undefined;
    for (const entry of entries) if (entry.replace) reset = entry;
    try {
      if (reset) this.#storage?.setItem(`${this.#entryKey}:reset`, JSON.stringify(reset));
    } catch {
      // Full or blocked storage: as for the entry itself.
    }
  }

  #arm(): void {
    if (this.#timerArmed) return;
    this.#timerArmed = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      void this.#drain();
    }, this.#writeDelayMs);
  }

  #disarm(): void {
    if (!this.#timerArmed) return;
    this.#timerArmed = false;
    this.#clock.clearTimeout(this.#timer);
  }

  // Queues a write of whatever is pending when its turn comes, so several
  // drains in a row write once and a flush waits for earlier writes too.
  #drain(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#writePending());
    return this.#queue;
  }

  async #writePending(): Promise<void> {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    // When the cursor was current, not when the write ran: compared with an
    // unload entry's on load, a write still in flight at unload must not
    // look newer than the entry holding what came after it.
    const taken = { savedAt: this.#now(), replaces: this.#replaces, flushes: this.#flushes };
    const db = await this.#database();
    if (db === undefined) return;
    await this.#write(db, pending, taken);
  }

  // One readwrite transaction: read, merge, put. A failure (quota, a closing
  // database) aborts it and is swallowed; the next save writes the whole
  // cursor again anyway.
  #write(
    db: IDBDatabase,
    pending: PendingWrite,
    { savedAt, replaces, flushes }: { savedAt: number; replaces: number; flushes: number },
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        const tx = db.transaction(CURSOR_STORE_NAME, 'readwrite');
        const store = tx.objectStore(CURSOR_STORE_NAME);
        const request = store.get(this.#name);
        request.onsuccess = () => {
          const stored = pending.replace ? undefined : parseRecord(request.result, this.#read);
          const cursor =
            stored === undefined ? pending.cursor : maxMerge(stored.cursor, pending.cursor, STORED_ONLY_MAX);
          const resetAt = pending.replace ? savedAt : (stored?.resetAt ?? 0);
          const record: StoredRecord = { v: 1, cursor, savedAt, resetAt };
          try {
            store.put(record, this.#name);
          } catch {
            tx.abort();
          }
        };
        tx.oncomplete = () => {
          if (pending.replace) this.#replacesWritten = Math.max(this.#replacesWritten, replaces);
          // Not unloading after all (a flush on leaving, or into the
          // back/forward cache): IndexedDB has it, stop the synchronous writes.
          if (flushes === this.#flushes && !this.#unloading) this.#entryDue = false;
          resolve();
        };
        tx.onabort = () => resolve();
      } catch {
        resolve();
      }
    });
  }

  #database(): Promise<IDBDatabase | undefined> {
    this.#db ??= this.#open();
    return this.#db;
  }

  #open(): Promise<IDBDatabase | undefined> {
    const factory = this.#factory;
    if (factory === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (db: IDBDatabase | undefined): void => {
        if (settled) {
          // Success after a timeout or `blocked`: nobody uses this connection.
          db?.close();
          return;
        }
        settled = true;
        this.#clock.clearTimeout(timer);
        resolve(db);
      };
      const timer = this.#clock.setTimeout(() => settle(undefined), this.#openTimeoutMs);
      let request: IDBOpenDBRequest;
      try {
        request = factory.open(CURSOR_DB_NAME, DB_VERSION);
      } catch {
        settle(undefined);
        return;
      }
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(CURSOR_STORE_NAME)) db.createObjectStore(CURSOR_STORE_NAME);
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab (a newer bundle) wants to upgrade: step aside rather
        // than block it, and reopen lazily on the next use (which then fails
        // on the version and leaves this store a no-op).
        db.onversionchange = () => {
          db.close();
          this.#forget(db);
        };
        // The browser closed it (storage cleared, disk error): reopen lazily.
        db.onclose = () => this.#forget(db);
        settle(db);
      };
      request.onerror = (event) => {
        event.preventDefault();
        settle(undefined);
      };
      request.onblocked = () => settle(undefined);
    });
  }

  #forget(db: IDBDatabase): void {
    if (this.#closed) return;
    const current = this.#db;
    void current?.then((open) => {
      if (open === db && this.#db === current) this.#db = undefined;
    });
  }
}
