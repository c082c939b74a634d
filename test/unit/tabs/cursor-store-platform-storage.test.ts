import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { channelName } from '../../../src/tabs/channel-name';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';
import { MemoryStorage } from '../../../src/testing/memory-storage';

// `persistCursor` leaves the tab's latest cursor in localStorage as the page
// unloads (`<channel name>:unload:<id>`). It went to the global
// `localStorage` even where the app injected `platform.storage` (Node, tests,
// tabwire/testing's fake browsers): two fake browsers in one process then
// shared each other's entries, and a reopened tab of one resumed from the
// other's cursor.

const scope = { orgId: 'org_test', userId: 'u_1' };
const PREFIX = `${channelName('tabwire', scope)}:unload:`;

const clients: RealtimeClient[] = [];
const browsers: FakeBrowser[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  for (const browser of browsers.splice(0)) await browser.close();
  vi.unstubAllGlobals();
});

/** The page's own `localStorage`, as a DOM test environment has one. */
function stubGlobalStorage(): MemoryStorage {
  const global = new MemoryStorage();
  vi.stubGlobal('localStorage', global);
  return global;
}

/** The keys of `storage` that are unload entries of the scope. */
function entries(storage: { readonly length: number; key(index: number): string | null }): string[] {
  const keys: string[] = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (key?.startsWith(PREFIX)) keys.push(key);
  }
  return keys;
}

/** A page that is its own leader, with `persistCursor`; closed after the test. */
function persistingClient(backend: MemoryBackend, platform: RealtimeOptions['platform']): RealtimeClient {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope,
    transports: [backend.transport],
    leader: { strategy: 'none' },
    persistCursor: true,
    devtools: false,
    telemetry: { sampleRate: 0 },
    platform,
  });
  clients.push(rt);
  return rt;
}

/** Subscribes `rt` to `tasks`, waits for `count` events, then fires `pagehide` on `window`. */
async function deliverAndUnload(
  rt: RealtimeClient,
  backend: MemoryBackend,
  window: EventTarget,
  count: number,
): Promise<void> {
  let seen = 0;
  rt.subscribe('tasks', (events) => {
    seen += events.length;
  });
  await vi.waitFor(() => expect(rt.getState().status).toBe('connected'));
  for (let i = 0; i < count; i++) backend.publish({ service: 'tasks' });
  await vi.waitFor(() => expect(seen).toBe(count));
  window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: false }));
}

describe('persistCursor: the unload entry goes to platform.storage', () => {
  it('a client given a storage writes its entry there, not to the global localStorage', async () => {
    const global = stubGlobalStorage();
    const storage = new MemoryStorage();
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const window = new EventTarget();
    const rt = persistingClient(backend, { window, storage, indexedDB: new IDBFactory() });
    await deliverAndUnload(rt, backend, window, 3);

    const keys = entries(storage);
    expect(keys).toHaveLength(1);
    expect(JSON.parse(storage.getItem(keys[0]!)!)).toMatchObject({ cursor: { tasks: 3 } });
    expect(entries(global)).toEqual([]);
  });

  it('a storage without `length` and `key` gets no entry, and neither does the global one', async () => {
    // Entries written where the next load cannot list them would pile up.
    const global = stubGlobalStorage();
    const data = new Map<string, string>();
    const storage = {
      getItem: (key: string) => data.get(key) ?? null,
      setItem: (key: string, value: string) => void data.set(key, value),
      removeItem: (key: string) => void data.delete(key),
    };
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const window = new EventTarget();
    const rt = persistingClient(backend, { window, storage, indexedDB: new IDBFactory() });
    await deliverAndUnload(rt, backend, window, 2);

    expect([...data.keys()].filter((key) => key.startsWith(PREFIX))).toEqual([]);
    expect(entries(global)).toEqual([]);
  });

  it("two fake browsers in one process do not see each other's entries", async () => {
    const global = stubGlobalStorage();
    const open = (): FakeBrowser => {
      const browser = createFakeBrowser({
        backend: createMemoryBackend({ heartbeatMs: 60_000 }),
        defaults: { persistCursor: true, platform: { indexedDB: new IDBFactory() } },
      });
      browsers.push(browser);
      return browser;
    };
    const first = open();
    const a = first.tab();
    await deliverAndUnload(a, first.backend, first.windowOf(a), 3);

    // The other browser's tab loads its persisted cursor (none) and connects
    // from its own server's head: resumed from the first one's entry
    // (tasks: 3), it was replayed 4 and 5.
    const second = open();
    for (let i = 0; i < 5; i++) second.backend.publish({ service: 'tasks' });
    const b = second.tab();
    const seen: number[] = [];
    b.subscribe('tasks', (events) => {
      for (const event of events) seen.push(event.seq);
    });
    await vi.waitFor(() => expect(b.getState().status).toBe('connected'));
    second.backend.publish({ service: 'tasks' });
    await vi.waitFor(() => expect(seen).toEqual([6]));

    // The first browser's entry is still its own, for its next load.
    expect(entries(first.storage)).toHaveLength(1);
    expect(entries(second.storage)).toEqual([]);
    expect(entries(global)).toEqual([]);
  });
});
