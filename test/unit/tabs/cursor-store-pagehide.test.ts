import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Clock } from '../../../src/clock';
import type { RealtimeOptions } from '../../../src/options';
import { readCursor } from '../../../src/protocol/read';
import { channelName } from '../../../src/tabs/channel-name';
import { CursorStore } from '../../../src/tabs/cursor-store';
import { globalTimersClock } from '../../../src/testing/fake-browser';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';
import { MemoryStorage } from '../../../src/testing/memory-storage';

// `persistCursor` and a page closed while events flow. Chromium still runs a
// closing page's tasks after `pagehide`: on `page.close()` of the leader the
// pagehide write committed 14 ms after `pagehide`, and the page delivered
// three more batches in the 40 ms after it. That commit ended the unload
// entry's writes, so the reopened tab got those batches again (the browser
// journey "every tab closed while events flow", 6 failures in 15 runs). Here
// the page is its own leader (`strategy: 'none'`), so its connection goes on
// after `pagehide` as the closing leader's did.

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.unstubAllGlobals();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const scope = { orgId: 'org_pagehide', userId: 'u_1' };
const NAME = channelName('tabwire', scope);

/** A page that is its own leader, with `persistCursor`, on `backend`; closed after the test. */
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

describe('persistCursor: a page closed while events flow', () => {
  it('the events it delivers after its pagehide write committed are in what the next load resumes from', async () => {
    const localStorage = new MemoryStorage();
    vi.stubGlobal('localStorage', localStorage);
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const indexedDB = new IDBFactory();
    const win = new EventTarget();
    const rt = persistingClient(backend, { window: win, indexedDB });
    const seqs: number[] = [];
    rt.subscribe('tasks', (events) => {
      for (const e of events) seqs.push(e.seq);
    });
    await until(() => rt.getState().status === 'connected', 'connected');
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await until(() => seqs.length === 3, '3 events');

    win.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: false }));
    // The record alone (an empty localStorage: no entry taken from the real one).
    const record = () =>
      new CursorStore({
        name: NAME,
        read: readCursor,
        indexedDB,
        storage: new MemoryStorage(),
        clock: globalTimersClock,
      }).load();
    await until(async () => (await record())?.tasks === 3, 'the pagehide write committed');
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await until(() => seqs.length === 5, '2 events after it');

    // The page dies now: its coalesced write (250 ms) never runs.
    const reopened = new CursorStore({
      name: NAME,
      read: readCursor,
      indexedDB,
      storage: localStorage,
      clock: globalTimersClock,
    });
    expect(await reopened.load()).toEqual({ tasks: 5 });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('a page frozen with `strategy: none` and discarded frozen: what it delivered is where the next load finds it', async () => {
    // Chrome discards frozen background tabs (memory), and a frozen page runs
    // no timer again: its coalesced write never runs. With a coordinator the
    // freeze leaves, which flushes; without one it only suspended the loop.
    const localStorage = new MemoryStorage();
    vi.stubGlobal('localStorage', localStorage);
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const indexedDB = new IDBFactory();
    const doc = new EventTarget();
    let frozen = false;
    const clock: Clock = {
      ...globalTimersClock,
      setTimeout: (fn, ms) => globalTimersClock.setTimeout(() => frozen || fn(), ms),
    };
    const rt = persistingClient(backend, { window: new EventTarget(), document: doc, indexedDB, clock });
    const seqs: number[] = [];
    rt.subscribe('tasks', (events) => {
      for (const e of events) seqs.push(e.seq);
    });
    await until(() => rt.getState().status === 'connected', 'connected');
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await until(() => seqs.length === 3, '3 events');

    doc.dispatchEvent(new Event('freeze'));
    frozen = true;
    const reopened = new CursorStore({
      name: NAME,
      read: readCursor,
      indexedDB,
      storage: localStorage,
      clock: globalTimersClock,
    });
    expect(await reopened.load()).toEqual({ tasks: 3 });
  });
});
