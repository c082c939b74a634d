import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readCursor } from '../../../src/protocol/read';
import type { Cursor } from '../../../src/protocol/schemas';
import { channelName } from '../../../src/tabs/channel-name';
import { CursorStore } from '../../../src/tabs/cursor-store';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { epochEvent, page, record, recordCursors, recordResyncs, settle } from './epoch-helpers';

// The leader's epoch ids in its cursor answer (see rejoin-cursor.test.ts for
// the main cases): resets without a cursor, persisted cursors, the replay a
// returning follower asks for, and the sync after realtime was off. Each
// test failed on the first version of it.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

const batch = (from: number, to: number) => ({
  type: 'batch',
  events: Array.from({ length: to - from }, (_, i) => epochEvent(from + i + 1)),
  after: { tasks: from },
  cursor: { tasks: to },
});

/** The types of every message posted on the browser's channels from now on. */
function postedTypes(b: FakeBrowser): string[] {
  const types: string[] = [];
  const proto = (b.channels.BroadcastChannel as unknown as { prototype: { postMessage(m: unknown): void } })
    .prototype;
  const post = proto.postMessage;
  proto.postMessage = function (this: unknown, message: unknown) {
    types.push(JSON.parse(String(message)).type);
    post.call(this, message);
  };
  return types;
}

describe('a reset that gave the service no cursor', () => {
  // PROTOCOL: a `reset` may list a service without a cursor for it ("to start
  // at the next batch", as EventPipeline.applyFrame does with a reset). The leader then
  // has no cursor for it, and the cursor answer's loop ran over the leader's
  // cursor only: the epoch id it carried for that service was never looked at.

  it('is told to a follower that missed it in the back/forward cache', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const aSeqs = record(a);
    await settle();
    const b = browser.tab();
    const bSeqs = record(b);
    const resyncs = recordResyncs(b);
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);

    backend.sendRaw(batch(0, 2));
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);
    // Was [1..5]: its cursor of the old epoch (5) dropped 1 and 2 as duplicates.
    expect(bSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);
  });

  it('does not make a tab that joined after it resync for nothing', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
    await settle();
    // Joins now: the leader's answer names the epoch, but not in its cursor.
    const c = browser.tab();
    const cSeqs = record(c);
    const resyncs = recordResyncs(c);
    await settle();
    backend.sendRaw(batch(0, 2));
    await settle();
    expect(cSeqs).toEqual([1, 2]);

    // Away and back with no reset meanwhile: the same epoch, nothing to re-fetch.
    browser.windowOf(c).dispatchEvent(page('pagehide'));
    await settle();
    browser.windowOf(c).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(resyncs).toEqual([]);
  });
});

describe('a follower back from the back/forward cache', () => {
  it('asks for no replay from a seq of the epoch it missed', async () => {
    // Forward this time (a `buffer_expired` reset to the head while the
    // follower was frozen), with another service behind the leader's too.
    // The replay ask for that other service was posted inside the loop,
    // before the missed reset was applied, so it carried the old epoch's
    // seq of the reset service: the leader reconnected from it, and a
    // server replays from there, or sends every tab a reset again.
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const cursors = recordCursors(backend);
    const a = browser.tab();
    record(a);
    record(a, 'notes');
    await settle();
    const b = browser.tab();
    record(b);
    const bNotes = record(b, 'notes');
    const resyncs = recordResyncs(b);
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    for (let i = 0; i < 3; i++) backend.publish({ service: 'notes' });
    await settle();

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.skip('tasks', 100);
    backend.reset(['tasks'], 'buffer_expired');
    backend.publish({ service: 'notes' });
    await settle();
    expect(a.getState().cursor).toEqual({ tasks: 105, notes: 4 });
    cursors.length = 0;

    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
    expect(bNotes).toEqual([1, 2, 3, 4]);
    // The replay it asked for (notes) reconnected the leader once...
    expect(cursors).toHaveLength(1);
    // ...from the browser's tasks cursor, not the old epoch's 5.
    expect(cursors[0]).toEqual({ tasks: 105, notes: 3 });
  });
});

describe('persistCursor', () => {
  // fake-indexeddb works on setImmediate: leave that one real.
  const idle = async () => {
    for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const step = async () => {
    await idle();
    await vi.advanceTimersByTimeAsync(300);
    await idle();
  };
  let indexedDB: IDBFactory;
  beforeEach(() => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    indexedDB = new IDBFactory();
    browser = createFakeBrowser({
      backend: createMemoryBackend({ heartbeatMs: 600_000 }),
      defaults: { persistCursor: true, platform: { indexedDB } },
    });
  });
  /** What an app reopened once every tab is closed resumes from. */
  async function stored(): Promise<Cursor | undefined> {
    await browser.close();
    await idle();
    const store = new CursorStore({
      name: channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
      read: readCursor,
      indexedDB,
      clock: {
        now: () => 0,
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      },
    });
    const loading = store.load();
    await idle();
    return loading;
  }

  it('does not keep the old epoch of a follower that missed a reset in the store', async () => {
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await step();
    const b = browser.tab();
    const bSeqs = record(b);
    const resyncs = recordResyncs(b);
    await step();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await step();
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await step();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    backend.sendRaw(batch(0, 2));
    await step();
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    // Relayed before the leader hears b's hello: b, still at the old epoch's
    // 5, drops it as a duplicate and saves its cursor (5) for the next write.
    backend.sendRaw(batch(2, 3));
    await step();
    await step();
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
    expect(b.getState().cursor).toEqual({ tasks: 3 });
    // Was { tasks: 5 }: the app reopened later resumes from the old epoch's
    // seq, and the new epoch's events up to 5 are lost (no gap, no resync).
    expect(await stored()).toEqual({ tasks: 3 });
  });

  it('does not keep the old epoch of a tab back from idle in the store', async () => {
    // The same through the adopt path (the tab takes the leader's cursor).
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await step();
    const b = browser.tab();
    const off = b.subscribe('tasks', () => {});
    await step();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await step();
    off();
    await step();
    expect(b.getState()).toMatchObject({ status: 'idle', cursor: { tasks: 5 } });
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    backend.sendRaw(batch(0, 2));
    await step();
    const bSeqs = record(b);
    backend.sendRaw(batch(2, 3));
    await step();
    await step();
    expect(b.getState().cursor).toEqual({ tasks: 3 });
    backend.sendRaw(batch(3, 4));
    await step();
    expect(bSeqs).toEqual([4]);
    await step();
    // Was { tasks: 5 }.
    expect(await stored()).toEqual({ tasks: 4 });
  });
});

describe('the sync a follower posts when realtime comes back on', () => {
  it('is not posted at every tick while it mirrors a leader whose own guard tripped', async () => {
    // The follower's status is the leader's `disabled` (auto_rollback): its
    // SLI tick runs the gate every 10 s, which lifts that status, and (a
    // follow-up flap it already had) mirrors it again at once. Each time it
    // posted a `sync`, and the leader answered with its cursor, though the
    // follower had turned nothing off itself and missed no frame.
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab({ rollback: { minSamples: 1 } });
    record(a);
    await settle();
    const b = browser.tab();
    record(b);
    await settle();
    const types = postedTypes(browser);
    backend.sendRaw('garbage');
    await settle();
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    await vi.advanceTimersByTimeAsync(60_000);
    // Was 6 of each in the minute.
    expect(types.filter((type) => type === 'sync')).toEqual([]);
    expect(types.filter((type) => type === 'cursor')).toEqual([]);
  });
});

describe("the leader's resync listener", () => {
  it('may consume the services it is given: the epoch is still told to a tab that missed it', async () => {
    // The listener got the frame's own list, which the leader reads after it
    // to name the reset's epoch: emptied, the epoch went unnamed, and a
    // follower back from the back/forward cache kept its old epoch's cursor.
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const aSeqs = record(a);
    const refetched: string[] = [];
    a.on('resync', ({ services }) => {
      while (services.length > 0) refetched.push(services.pop()!);
    });
    await settle();
    const b = browser.tab();
    const bSeqs = record(b);
    const resyncs = recordResyncs(b);
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: {}, reason: 'epoch' });
    await settle();
    expect(refetched).toEqual(['tasks']);
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    // Was []: no resync.
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);

    backend.sendRaw(batch(0, 2));
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);
    // Was [1..5]: its cursor of the old epoch (5) dropped 1 and 2 as duplicates.
    expect(bSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);
  });
});
