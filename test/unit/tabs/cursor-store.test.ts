import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { readCursor } from '../../../src/protocol/read';
import type { Cursor } from '../../../src/protocol/schemas';
import { channelName } from '../../../src/tabs/channel-name';
import {
  CURSOR_DB_NAME,
  CURSOR_STORE_NAME,
  CursorStore,
  type CursorStoreOptions,
} from '../../../src/tabs/cursor-store';

// ---- fakes ---------------------------------------------------------------

/**
 * A clock whose timers run only on `advance`. Global fake timers are not used
 * because fake-indexeddb schedules its own work with real timers.
 */
class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers still armed. */
  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, timer]) => timer.at <= until)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
    }
    this.#now = until;
  }
}

/** Lets fake-indexeddb (which runs on real timers) finish what is in flight. */
function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes a raw value under `key`, as a foreign or older bundle might have. */
async function putRaw(factory: IDBFactory, key: string, value: unknown): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(CURSOR_DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(CURSOR_STORE_NAME);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction(CURSOR_STORE_NAME, 'readwrite');
    tx.objectStore(CURSOR_STORE_NAME).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

// ---- setup ---------------------------------------------------------------

const NAME = channelName('app', { orgId: 'org-1', userId: 'user-1' });

let factory: IDBFactory;
let clock: ManualClock;
const stores: CursorStore[] = [];

function makeStore(options: Partial<CursorStoreOptions> = {}): CursorStore {
  const store = new CursorStore({
    name: NAME,
    read: readCursor,
    indexedDB: factory,
    clock,
    now: () => 1_700_000_000_000,
    ...options,
  });
  stores.push(store);
  return store;
}

beforeEach(() => {
  factory = new IDBFactory();
  clock = new ManualClock();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  vi.restoreAllMocks();
});

// ---- tests ---------------------------------------------------------------

describe('CursorStore', () => {
  it('round-trips a cursor through IndexedDB, across instances', async () => {
    const store = makeStore();
    expect(await store.load()).toBeUndefined();
    store.save({ orders: 5, items: 0 });
    await store.flush();
    expect(await store.load()).toEqual({ orders: 5, items: 0 });
    await store.close();

    // A reopened app (a new instance, same factory) resumes from it.
    expect(await makeStore().load()).toEqual({ orders: 5, items: 0 });
  });

  it('stores `{ v: 1, cursor, savedAt, resetAt }` under the name', async () => {
    const store = makeStore();
    store.save({ orders: 1 });
    await store.flush();
    await store.close();
    const db = await new Promise<IDBDatabase>((resolve) => {
      const request = factory.open(CURSOR_DB_NAME);
      request.onsuccess = () => resolve(request.result);
    });
    const value = await new Promise<unknown>((resolve) => {
      const request = db.transaction(CURSOR_STORE_NAME).objectStore(CURSOR_STORE_NAME).get(NAME);
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    // resetAt: no reset yet.
    expect(value).toEqual({ v: 1, cursor: { orders: 1 }, savedAt: 1_700_000_000_000, resetAt: 0 });
  });

  it('keeps scopes apart', async () => {
    const org1 = makeStore();
    const org2 = makeStore({ name: channelName('app', { orgId: 'org-2', userId: 'user-1' }) });
    const otherUser = makeStore({ name: channelName('app', { orgId: 'org-1', userId: 'user-2' }) });
    org1.save({ orders: 10 });
    org2.save({ orders: 20 });
    await Promise.all([org1.flush(), org2.flush()]);
    expect(await org1.load()).toEqual({ orders: 10 });
    expect(await org2.load()).toEqual({ orders: 20 });
    expect(await otherUser.load()).toBeUndefined();
  });

  it('coalesces saves: ten saves are one write, of the latest cursor', async () => {
    const put = vi.spyOn(IDBObjectStore.prototype, 'put');
    const store = makeStore({ writeDelayMs: 250 });
    for (let seq = 1; seq <= 10; seq++) store.save({ orders: seq, items: seq * 2 });

    // Nothing before the window ends.
    clock.advance(249);
    await settle();
    expect(put).not.toHaveBeenCalled();
    expect(await store.load()).toBeUndefined();

    clock.advance(1);
    await store.flush(); // waits for the timer's write; nothing left to add
    expect(put).toHaveBeenCalledTimes(1);
    expect(await store.load()).toEqual({ orders: 10, items: 20 });

    // The next window starts with the next save.
    expect(clock.pending).toBe(0);
    store.save({ orders: 11, items: 22 });
    expect(clock.pending).toBe(1);
    clock.advance(250);
    await store.flush();
    expect(put).toHaveBeenCalledTimes(2);
    expect(await store.load()).toEqual({ orders: 11, items: 22 });
  });

  it('never moves a service backwards within one window', async () => {
    const store = makeStore();
    store.save({ orders: 9, items: 1 });
    store.save({ orders: 3, items: 4 });
    await store.flush();
    expect(await store.load()).toEqual({ orders: 9, items: 4 });
  });

  it('max-merges across tabs, so a lagging tab writing last cannot move the cursor back', async () => {
    const tabA = makeStore();
    const tabB = makeStore();
    tabA.save({ orders: 50, items: 7 });
    await tabA.flush();
    // Tab B lags on `orders`, is ahead on `items` and knows a new service.
    tabB.save({ orders: 40, items: 9, users: 2 });
    await tabB.flush();
    expect(await tabA.load()).toEqual({ orders: 50, items: 9, users: 2 });
    expect(await tabB.load()).toEqual({ orders: 50, items: 9, users: 2 });
  });

  it('max-merges writes that run concurrently', async () => {
    const tabs = [makeStore(), makeStore(), makeStore()];
    const cursors: Cursor[] = [
      { orders: 3, items: 9 },
      { orders: 8, items: 1 },
      { orders: 5, items: 5, users: 1 },
    ];
    for (const [index, tab] of tabs.entries()) tab.save(cursors[index] ?? {});
    await Promise.all(tabs.map((tab) => tab.flush()));
    expect(await tabs[0]?.load()).toEqual({ orders: 8, items: 9, users: 1 });
  });

  it('replace overwrites, moving a service backwards after a server reset', async () => {
    const store = makeStore();
    store.save({ orders: 100, items: 5 });
    await store.flush();
    store.replace({ orders: 2 });
    await store.flush();
    expect(await store.load()).toEqual({ orders: 2 });

    // Saves after it are max-merged again.
    store.save({ orders: 1 });
    await store.flush();
    expect(await store.load()).toEqual({ orders: 2 });
  });

  it('merges saves made after a replace in the same window into it', async () => {
    const store = makeStore();
    store.save({ orders: 100 });
    await store.flush();
    store.replace({ orders: 2 });
    store.save({ orders: 3, items: 1 });
    await store.flush();
    expect(await store.load()).toEqual({ orders: 3, items: 1 });
  });

  it('a save without a pending replace cannot undo an earlier flushed replace of another tab', async () => {
    const tabA = makeStore();
    const tabB = makeStore();
    tabA.save({ orders: 100 });
    await tabA.flush();
    tabA.replace({ orders: 0 });
    await tabA.flush();
    tabB.save({ orders: 1 });
    await tabB.flush();
    expect(await tabA.load()).toEqual({ orders: 1 });
  });

  describe('corrupt or foreign values load as undefined', () => {
    const proto = JSON.parse('{"__proto__": 5, "orders": 1}') as unknown;
    const cases: [string, unknown][] = [
      ['a string', 'orders=5'],
      ['a number', 42],
      ['null', null],
      ['an array', [{ orders: 1 }]],
      ['no version', { cursor: { orders: 1 }, savedAt: 1 }],
      ['another version', { v: 2, cursor: { orders: 1 }, savedAt: 1 }],
      ['a string cursor', { v: 1, cursor: 'eyJvcmRlcnMiOjF9', savedAt: 1 }],
      ['a string seq', { v: 1, cursor: { orders: '5' }, savedAt: 1 }],
      ['a negative seq', { v: 1, cursor: { orders: -1 }, savedAt: 1 }],
      ['a fractional seq', { v: 1, cursor: { orders: 1.5 }, savedAt: 1 }],
      ['a NaN seq', { v: 1, cursor: { orders: Number.NaN }, savedAt: 1 }],
      ['a `__proto__` key', { v: 1, cursor: proto, savedAt: 1 }],
      ['a `constructor` key', { v: 1, cursor: { constructor: 1 }, savedAt: 1 }],
      ['a bad service name', { v: 1, cursor: { 'has space': 1 }, savedAt: 1 }],
      ['no savedAt', { v: 1, cursor: { orders: 1 } }],
    ];
    it.each(cases)('%s', async (_label, value) => {
      await putRaw(factory, NAME, value);
      expect(await makeStore().load()).toBeUndefined();
    });

    it('the `__proto__` case really stores an own `__proto__` key', async () => {
      await putRaw(factory, NAME, { v: 1, cursor: proto, savedAt: 1 });
      const loaded = await new Promise<unknown>((resolve) => {
        const request = factory.open(CURSOR_DB_NAME);
        request.onsuccess = () => {
          const db = request.result;
          const get = db.transaction(CURSOR_STORE_NAME).objectStore(CURSOR_STORE_NAME).get(NAME);
          get.onsuccess = () => {
            db.close();
            resolve(get.result);
          };
        };
      });
      const cursor = (loaded as { cursor: object }).cursor;
      expect(Object.keys(cursor)).toContain('__proto__');
    });

    it('a corrupt value is overwritten by the next save, not merged', async () => {
      await putRaw(factory, NAME, { v: 1, cursor: { orders: -1, items: 99 }, savedAt: 1 });
      const store = makeStore();
      store.save({ orders: 4 });
      await store.flush();
      expect(await store.load()).toEqual({ orders: 4 });
    });
  });

  it('ignores an invalid cursor passed to save or replace', async () => {
    const store = makeStore();
    store.save({ orders: 5 });
    store.save({ orders: -3 });
    store.replace({ '__proto__ ': 1 });
    // zod's record drops an own `__proto__` key; the store rejects the whole cursor.
    store.save(JSON.parse('{"__proto__": 1, "orders": 9}') as Cursor);
    await store.flush();
    expect(await store.load()).toEqual({ orders: 5 });
  });

  it('does not see later mutation of a saved cursor object', async () => {
    const store = makeStore();
    const cursor: Cursor = { orders: 5 };
    store.save(cursor);
    cursor.orders = 1;
    cursor.items = 3;
    await store.flush();
    expect(await store.load()).toEqual({ orders: 5 });
  });

  it('flush writes at once, without waiting for the window', async () => {
    const put = vi.spyOn(IDBObjectStore.prototype, 'put');
    const store = makeStore({ writeDelayMs: 60_000 });
    store.save({ orders: 7 });
    await store.flush();
    expect(put).toHaveBeenCalledTimes(1);
    expect(clock.pending).toBe(0); // the coalescing timer was cancelled
    expect(await makeStore().load()).toEqual({ orders: 7 });

    // Nothing pending: flush writes nothing.
    await store.flush();
    expect(put).toHaveBeenCalledTimes(1);
  });

  it('close flushes, then the store is inert', async () => {
    const store = makeStore();
    store.save({ orders: 3 });
    await store.close();
    expect(await makeStore().load()).toEqual({ orders: 3 });
    store.save({ orders: 4 });
    await store.flush();
    expect(await store.load()).toBeUndefined();
    expect(await makeStore().load()).toEqual({ orders: 3 });
    await store.close(); // twice is fine
  });

  describe('without a working IndexedDB the store is a no-op', () => {
    it('no IndexedDB at all', async () => {
      expect(typeof (globalThis as { indexedDB?: unknown }).indexedDB).toBe('undefined');
      const store = new CursorStore({ name: NAME, read: readCursor, clock });
      expect(await store.load()).toBeUndefined();
      store.save({ orders: 1 });
      store.replace({ orders: 0 });
      clock.advance(250);
      await expect(store.flush()).resolves.toBeUndefined();
      await expect(store.close()).resolves.toBeUndefined();
    });

    it('open throws', async () => {
      const throwing = {
        open: () => {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        },
      } as unknown as IDBFactory;
      const store = makeStore({ indexedDB: throwing });
      expect(await store.load()).toBeUndefined();
      store.save({ orders: 1 });
      await expect(store.flush()).resolves.toBeUndefined();
    });

    it('open fails with an error event', async () => {
      // A higher version already on disk makes opening version 1 fail.
      await new Promise<void>((resolve) => {
        const request = factory.open(CURSOR_DB_NAME, 5);
        request.onsuccess = () => {
          request.result.close();
          resolve();
        };
      });
      const store = makeStore();
      expect(await store.load()).toBeUndefined();
      store.save({ orders: 1 });
      await expect(store.flush()).resolves.toBeUndefined();
    });

    it('open hangs: given up after openTimeoutMs', async () => {
      const hanging = { open: () => ({}) } as unknown as IDBFactory;
      const store = makeStore({ indexedDB: hanging, openTimeoutMs: 1000 });
      const loaded = store.load();
      clock.advance(1000);
      expect(await loaded).toBeUndefined();
      store.save({ orders: 1 });
      await expect(store.flush()).resolves.toBeUndefined();
    });

    it('transactions throw', async () => {
      const store = makeStore();
      expect(await store.load()).toBeUndefined(); // opens the database
      vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
        throw new DOMException('Quota exceeded', 'QuotaExceededError');
      });
      store.save({ orders: 1 });
      await expect(store.flush()).resolves.toBeUndefined();
      vi.restoreAllMocks();
      expect(await store.load()).toBeUndefined();
      // It keeps working once the error is gone.
      store.save({ orders: 2 });
      await store.flush();
      expect(await store.load()).toEqual({ orders: 2 });
    });
  });

  it('steps aside when another tab upgrades the database, then stays a no-op', async () => {
    const store = makeStore();
    store.save({ orders: 1 });
    await store.flush();
    const upgraded = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(CURSOR_DB_NAME, 2);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    upgraded.close();
    await settle();
    expect(await store.load()).toBeUndefined();
    store.save({ orders: 2 });
    await expect(store.flush()).resolves.toBeUndefined();
  });
});
