import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readCursor } from '../../../src/protocol/read';
import type { Cursor } from '../../../src/protocol/schemas';
import { channelName } from '../../../src/tabs/channel-name';
import { CursorStore, type CursorStoreOptions } from '../../../src/tabs/cursor-store';
import { globalTimersClock } from '../../../src/testing/fake-browser';
import { MemoryStorage } from '../../../src/testing/memory-storage';

// `persistCursor` exactly once across page loads. Chromium aborts the
// IndexedDB transactions of a document it unloads, so the write a closing or
// reloading page starts on `pagehide` never lands, and the next load resumed
// from the last coalesced write (up to 250 ms of events delivered again).
// `flush()` therefore also writes the latest cursor synchronously to
// localStorage (`${name}:unload`), and `load()` folds it into the record.
// Here the unloading page's IndexedDB write is made to fail as Chromium's
// does: its `put` throws, and the store aborts the transaction.

const NAME = channelName('app', { orgId: 'org-1', userId: 'user-1' });
const ENTRY_PREFIX = `${NAME}:unload:`;

let factory: IDBFactory;
let storage: MemoryStorage;
let wall: number;
const stores: CursorStore[] = [];

function makeStore(options: Partial<CursorStoreOptions> = {}): CursorStore {
  const store = new CursorStore({
    name: NAME,
    read: readCursor,
    indexedDB: factory,
    storage,
    clock: globalTimersClock,
    now: () => wall,
    // Writes happen on flush only, when the test says.
    writeDelayMs: 60_000,
    ...options,
  });
  stores.push(store);
  return store;
}

/**
 * A page that saved `cursor` is unloaded (`pagehide`; with `unloading`
 * false a flush on leaving or into the back/forward cache): its flush's
 * IndexedDB write is aborted.
 */
async function unload(store: CursorStore, unloading = true): Promise<void> {
  const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
    throw new DOMException('The transaction was aborted', 'AbortError');
  });
  try {
    await store.flush(unloading);
  } finally {
    put.mockRestore();
  }
}

/** What a page loaded now resumes from, and whether the entry is gone after it. */
async function loadAgain(options: Partial<CursorStoreOptions> = {}): Promise<Cursor | undefined> {
  return makeStore(options).load();
}

/** The scope's unload entries in `storage`, parsed. */
function entries(): unknown[] {
  const found: unknown[] = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i)!;
    if (key.startsWith(ENTRY_PREFIX)) found.push(JSON.parse(storage.getItem(key)!));
  }
  return found;
}

/** The IndexedDB record alone (no entry to fold in). */
async function recordOnly(): Promise<Cursor | undefined> {
  return makeStore({ storage: new MemoryStorage() }).load();
}

beforeEach(() => {
  factory = new IDBFactory();
  storage = new MemoryStorage();
  wall = 1_000;
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  vi.restoreAllMocks();
});

describe('CursorStore: the unload entry', () => {
  it('a reload after the last coalesced write resumes from the latest cursor, not the stored one', async () => {
    const page = makeStore();
    page.save({ tasks: 10 });
    await page.flush(); // the last coalesced write
    wall = 1_200;
    page.save({ tasks: 14 });
    await unload(page);
    expect(await recordOnly()).toEqual({ tasks: 10 });

    expect(await loadAgain()).toEqual({ tasks: 14 });
    // Folded into the record and removed.
    expect(entries()).toEqual([]);
    expect(await recordOnly()).toEqual({ tasks: 14 });
  });

  it('holds the latest cursor also when nothing is pending (a write in flight is aborted all the same)', async () => {
    const page = makeStore();
    page.save({ tasks: 3 });
    await unload(page); // the timer's write, aborted by the unload
    await unload(page); // pagehide: nothing pending any more
    expect(await recordOnly()).toBeUndefined();
    expect(await loadAgain()).toEqual({ tasks: 3 });
  });

  it('frames handled after the pagehide flush update the entry too', async () => {
    // Chromium still runs a closing page's tasks after `pagehide` (seen on
    // `page.close()`), and their writes never commit.
    const page = makeStore();
    page.save({ tasks: 3 });
    await unload(page);
    wall = 1_050;
    page.save({ tasks: 4 });
    page.replace({ tasks: 1 });
    page.save({ tasks: 2, users: 1 });
    expect(entries()).toEqual([
      {
        v: 1,
        cursor: { tasks: 2, users: 1 },
        savedAt: 1_050,
        replace: true,
      },
    ]);
  });

  it('frames handled after a pagehide write that commits update the entry too (the page still dies before its next write)', async () => {
    // Seen in Chromium on `page.close()` of the leader while events flowed:
    // the pagehide write committed 14 ms after `pagehide`, and the page
    // delivered three more batches in the 40 ms after it. The commit ended
    // the entry writes, so the reopened tab got those three again.
    const page = makeStore();
    page.save({ tasks: 71 });
    const pagehide = page.flush(true);
    // The write has taken its cursor; it commits only after what follows.
    await Promise.resolve();
    await Promise.resolve();
    wall = 1_010;
    page.save({ tasks: 72 });
    await pagehide;
    expect(await recordOnly()).toEqual({ tasks: 71 });
    wall = 1_050;
    page.save({ tasks: 73 });
    page.save({ tasks: 75 });
    // The page is gone: its coalesced write of 75 never runs.
    expect(await loadAgain()).toEqual({ tasks: 75 });
  });

  it('after a flush that is not an unload (leaving, into the back/forward cache), saves update the entry until a write commits', async () => {
    const page = makeStore();
    page.save({ tasks: 3 });
    await unload(page, false);
    page.save({ tasks: 4 });
    expect(entries()).toEqual([{ v: 1, cursor: { tasks: 4 }, savedAt: 1_000, replace: false }]);

    // IndexedDB has it: saves leave localStorage alone.
    await page.flush();
    const setItem = vi.spyOn(storage, 'setItem');
    page.save({ tasks: 5 });
    expect(setItem).not.toHaveBeenCalled();
    await page.flush();
    expect(await loadAgain()).toEqual({ tasks: 5 });
  });

  it('a write in flight at unload that still commits does not supersede the entry', async () => {
    const original = IDBObjectStore.prototype.put;
    let puts = 0;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
      // The first (coalesced) write commits; the unloading page's is aborted.
      if (puts++ === 0) return original.apply(this, args);
      throw new DOMException('The transaction was aborted', 'AbortError');
    });
    const page = makeStore();
    page.save({ tasks: 5 });
    const first = page.flush();
    // The write has taken its cursor; it commits only after what follows.
    await Promise.resolve();
    await Promise.resolve();
    wall = 1_100;
    page.replace({ tasks: 2 }); // a server reset
    const second = page.flush(); // pagehide
    wall = 1_200;
    await Promise.all([first, second]);
    vi.restoreAllMocks();
    expect(puts).toBe(2);
    expect(await recordOnly()).toEqual({ tasks: 5 });
    // The record is stamped with when its cursor was current (1_000), not
    // when it committed, so the entry's replace (1_100) is seen to be newer.
    expect(await loadAgain()).toEqual({ tasks: 2 });
  });

  it('max-merges into the record: higher seqs win, services only the record has stay', async () => {
    const other = makeStore({ storage: new MemoryStorage() });
    other.save({ tasks: 20, users: 4, orders: 9 });
    await other.flush();
    wall = 1_100;
    const page = makeStore();
    page.save({ tasks: 12, users: 6, items: 1 });
    await unload(page);
    expect(await loadAgain()).toEqual({ orders: 9, tasks: 20, users: 6, items: 1 });
  });

  it('tabs unloading one after another (a browser quitting): the entry keeps what either delivered', async () => {
    const leader = makeStore();
    const follower = makeStore();
    leader.save({ tasks: 30, users: 2 });
    follower.save({ tasks: 28, users: 3 });
    await unload(leader);
    wall = 1_001;
    await unload(follower);
    expect(await loadAgain()).toEqual({ tasks: 30, users: 3 });
  });

  it('tabs unloading at once, each from its own copy of localStorage, do not overwrite each other', async () => {
    // Each renderer process reads and writes its own copy of the origin's
    // localStorage, synced to the others later: two pages closed at once
    // both saw no entry, and the last one synced won.
    const processA = new MemoryStorage();
    const processB = new MemoryStorage();
    const leader = makeStore({ storage: processA });
    const follower = makeStore({ storage: processB });
    leader.save({ tasks: 30 });
    follower.save({ tasks: 28, users: 3 });
    await unload(leader);
    await unload(follower);
    for (const process of [processA, processB]) {
      for (let i = 0; i < process.length; i++) {
        const key = process.key(i)!;
        storage.setItem(key, process.getItem(key)!);
      }
    }
    expect(await loadAgain()).toEqual({ tasks: 30, users: 3 });
  });

  it('an entry older than a later write of a tab behind it still counts (no reset between)', async () => {
    // The leader's page closes first; the follower, two events behind (the
    // leader never relayed them), writes on, then closes too.
    const leader = makeStore();
    leader.save({ tasks: 70 });
    await unload(leader);
    wall = 1_100;
    const follower = makeStore({ storage: new MemoryStorage() });
    follower.save({ tasks: 68 });
    await follower.flush();
    expect(await recordOnly()).toEqual({ tasks: 68 });
    expect(await loadAgain()).toEqual({ tasks: 70 });
  });

  it('an entry older than a record a load made from entries alone still counts (no reset ever came)', async () => {
    // No record yet (the first page closed before its first coalesced
    // write); a load folds that page's entry in and writes the record.
    const first = makeStore();
    first.save({ tasks: 7 });
    await unload(first);
    wall = 2_000;
    expect(await loadAgain()).toEqual({ tasks: 7 });
    // Another tab's entry, saved just before the first page's (they closed
    // at once), which the loading process's copy of localStorage did not
    // have yet (see above).
    storage.setItem(
      `${ENTRY_PREFIX}late`,
      JSON.stringify({ v: 1, cursor: { tasks: 9 }, savedAt: 999, replace: false }),
    );
    expect(await loadAgain()).toEqual({ tasks: 9 });
  });

  describe('without a working IndexedDB, entries do not pile up', () => {
    const broken: Array<[string, () => IDBFactory | undefined]> = [
      // In Node: no global `indexedDB` (the unit project runs without one).
      ['no IndexedDB at all (Node with a `platform.storage`)', () => undefined],
      [
        'open throws (private window, blocked storage)',
        () =>
          ({
            open: () => {
              throw new DOMException('The operation is insecure.', 'SecurityError');
            },
          }) as unknown as IDBFactory,
      ],
      [
        'open fails with an error event (a newer version on disk, a corrupt profile)',
        () => {
          const newer = new IDBFactory();
          newer.open('tabwire-cursor', 99);
          return newer;
        },
      ],
    ];
    for (const [what, make] of broken) {
      it(what, async () => {
        expect(typeof (globalThis as { indexedDB?: unknown }).indexedDB).toBe('undefined');
        const indexedDB = make();
        for (let page = 0; page < 5; page++) {
          const store = makeStore({ indexedDB });
          expect(await store.load()).toBeUndefined();
          store.save({ tasks: page });
          await store.flush(true);
          wall += 1_000;
        }
        // The last page's own: every load takes the ones before it.
        expect(entries()).toEqual([{ v: 1, cursor: { tasks: 4 }, savedAt: 5_000, replace: false }]);
      });
    }

    it('the newest replace is kept, one at most', async () => {
      for (let page = 0; page < 5; page++) {
        const store = makeStore({ indexedDB: undefined });
        expect(await store.load()).toBeUndefined();
        store.replace({ tasks: page });
        await store.flush(true);
        wall += 1_000;
      }
      // The last page's own, and the one before it, put back by its load.
      expect(entries()).toEqual([
        expect.objectContaining({ cursor: { tasks: 3 }, savedAt: 4_000, replace: true }),
        expect.objectContaining({ cursor: { tasks: 4 }, savedAt: 5_000, replace: true }),
      ]);
    });
  });

  describe('server resets (the cursor moves back in a new epoch)', () => {
    it("an entry older than the record's last reset is dropped", async () => {
      const closed = makeStore();
      closed.save({ tasks: 500 });
      await unload(closed);
      // The other tab applies a reset afterwards: its replace is the truth.
      wall = 2_000;
      const other = makeStore({ storage: new MemoryStorage() });
      other.replace({ tasks: 3 });
      await other.flush();

      expect(await loadAgain()).toEqual({ tasks: 3 });
      expect(entries()).toEqual([]);
      expect(await recordOnly()).toEqual({ tasks: 3 });
    });

    it('a replace the unloading page could not commit overwrites the record', async () => {
      const page = makeStore();
      page.save({ tasks: 500, users: 7 });
      await page.flush();
      wall = 1_100;
      page.replace({ tasks: 2 });
      await unload(page);
      expect(await recordOnly()).toEqual({ tasks: 500, users: 7 });

      expect(await loadAgain()).toEqual({ tasks: 2 });
      expect(await recordOnly()).toEqual({ tasks: 2 });
    });

    it('a replace the unloading page could not commit outlives a load whose open timed out', async () => {
      // The record is of the old epoch; the reset's replace is in the entry
      // alone. A page whose open never answers (Safari's first open) must not
      // drop it: the next page with a database then resumed from the old
      // epoch's 500, which the server reads against the new epoch's head,
      // skipping the new epoch's events up to 500.
      const page = makeStore();
      page.save({ tasks: 500 });
      await page.flush();
      wall = 1_100;
      page.replace({ tasks: 2 });
      await unload(page);
      wall = 2_000;
      const hanging = { open: () => ({}) } as unknown as IDBFactory;
      // Two pages (two tabs, or two activations): each load takes the entries.
      expect(await makeStore({ indexedDB: hanging, openTimeoutMs: 1 }).load()).toBeUndefined();
      expect(await makeStore({ indexedDB: hanging, openTimeoutMs: 1 }).load()).toBeUndefined();
      expect(entries()).toHaveLength(1);
      expect(await loadAgain()).toEqual({ tasks: 2 });
      expect(await recordOnly()).toEqual({ tasks: 2 });
    });

    it('a committed replace: saves after it max-merge as usual', async () => {
      const page = makeStore();
      page.save({ tasks: 500 });
      await page.flush();
      wall = 1_100;
      page.replace({ tasks: 2 });
      wall = 1_150;
      await page.flush(); // committed; its entry says replace, stale from now on
      wall = 1_200;
      const other = makeStore({ storage: new MemoryStorage() });
      other.save({ users: 5 });
      await other.flush();
      wall = 1_300;
      page.save({ tasks: 6 });
      await unload(page);
      // Not a replace any more: the other tab's `users` stays.
      expect(await loadAgain()).toEqual({ users: 5, tasks: 6 });
    });

    it("another tab's entry from before this tab's reset is not merged into this tab's", async () => {
      const before = makeStore();
      before.save({ tasks: 500 });
      await unload(before); // entry of the old epoch, at 1_000
      wall = 1_100;
      const after = makeStore();
      after.replace({ tasks: 2 });
      wall = 1_150;
      await unload(after);
      expect(await loadAgain()).toEqual({ tasks: 2 });
    });
  });

  describe('a corrupt or foreign entry is ignored and removed', () => {
    const values: Array<[string, string]> = [
      ['not JSON', '{tasks'],
      ['a string', '"garbage"'],
      ['null', 'null'],
      ['another version', JSON.stringify({ v: 2, cursor: { tasks: 900 }, savedAt: 5_000 })],
      ['no savedAt', JSON.stringify({ v: 1, cursor: { tasks: 900 } })],
      ['a string seq', JSON.stringify({ v: 1, cursor: { tasks: '900' }, savedAt: 5_000 })],
      ['a negative seq', JSON.stringify({ v: 1, cursor: { tasks: -1 }, savedAt: 5_000 })],
      ['an own __proto__', '{"v":1,"cursor":{"__proto__":1,"tasks":900},"savedAt":5000}'],
    ];
    for (const [what, json] of values) {
      it(what, async () => {
        const page = makeStore();
        page.save({ tasks: 10 });
        await page.flush();
        storage.setItem(`${ENTRY_PREFIX}foreign`, json);
        expect(await loadAgain()).toEqual({ tasks: 10 });
        expect(storage.length).toBe(0);
        expect(await recordOnly()).toEqual({ tasks: 10 });
      });
    }
  });

  it('other scopes never read it', async () => {
    const page = makeStore();
    page.save({ tasks: 10 });
    await unload(page);
    const otherUser = channelName('app', { orgId: 'org-1', userId: 'user-2' });
    expect(await loadAgain({ name: otherUser })).toBeUndefined();
    expect(entries()).toHaveLength(1);
  });

  it('storage that throws (full, blocked) never throws into the app', async () => {
    const throwing = {
      get length(): number {
        throw new DOMException('denied', 'SecurityError');
      },
      key: vi.fn((): string | null => null),
      getItem: vi.fn((): string | null => {
        throw new DOMException('denied', 'SecurityError');
      }),
      setItem: vi.fn(() => {
        throw new DOMException('full', 'QuotaExceededError');
      }),
      removeItem: vi.fn(() => {
        throw new DOMException('denied', 'SecurityError');
      }),
    };
    const page = makeStore({ storage: throwing });
    page.save({ tasks: 10 });
    await expect(page.flush()).resolves.toBeUndefined();
    expect(throwing.setItem).toHaveBeenCalled();
    expect(await loadAgain({ storage: throwing })).toEqual({ tasks: 10 });

    // Full only: the write fails, the record stays as IndexedDB has it.
    const full = new MemoryStorage();
    vi.spyOn(full, 'setItem').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError');
    });
    const second = makeStore({ storage: full });
    second.save({ tasks: 12 });
    await expect(unload(second)).resolves.toBeUndefined();
    expect(await loadAgain({ storage: full })).toEqual({ tasks: 10 });
  });

  it('a `localStorage` global whose access throws leaves the store on IndexedDB alone', async () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('denied', 'SecurityError');
      },
    });
    try {
      const page = new CursorStore({
        name: NAME,
        read: readCursor,
        indexedDB: factory,
        clock: globalTimersClock,
      });
      stores.push(page);
      page.save({ tasks: 4 });
      await expect(page.flush()).resolves.toBeUndefined();
      expect(await page.load()).toEqual({ tasks: 4 });
    } finally {
      if (descriptor) Object.defineProperty(globalThis, 'localStorage', descriptor);
      else delete (globalThis as { localStorage?: unknown }).localStorage;
    }
  });
});
