import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { epochEvent, page, record, recordResyncs, settle } from './epoch-helpers';

// What a tab does with the cursor the leader answers its `hello` with.
// It used to skip to the leader's cursor wherever its own was older, also
// after the back/forward cache, whose handlers stayed subscribed: what was
// published meanwhile never reached them (no gap, no resync). And a tab back
// from idle kept a cursor newer than the leader's (a reset to a new epoch it
// did not hear), dropping the new epoch's events as duplicates.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

/** A leader `a` and a follower `b` of a new browser, both recording; `b`'s resyncs too. */
async function leaderAndFollower() {
  browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
  const a = browser.tab();
  const aSeqs = record(a);
  await settle();
  const b = browser.tab();
  const bSeqs = record(b);
  const resyncs = recordResyncs(b);
  await settle();
  return { backend: browser.backend, a, aSeqs, b, bSeqs, resyncs };
}

describe('the cursor a joining tab gets from the leader', () => {
  it('does not skip what a follower missed in the back/forward cache', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const aSeqs = record(a);
    await settle();
    const b = browser.tab();
    const bSeqs = record(b);
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    backend.publish({ service: 'tasks' });
    await settle();
    expect(bSeqs).toEqual([1]);

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.getState().isLeader).toBe(false);
    // Caught up at once, with no new event needed to reveal the hole.
    expect(bSeqs).toEqual([1, 2, 3]);

    backend.publish({ service: 'tasks' });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4]);
    expect(bSeqs).toEqual([1, 2, 3, 4]);
  });

  it('takes the new epoch from the leader for a tab that was idle through a reset', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const aSeqs = record(a);
    await settle();
    const b = browser.tab();
    const off = b.subscribe('tasks', () => {});
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    expect(b.getState().cursor).toEqual({ tasks: 5 });
    off();
    await settle();
    expect(b.getState().status).toBe('idle');

    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    backend.sendRaw({
      type: 'batch',
      events: [epochEvent(1), epochEvent(2)],
      after: { tasks: 0 },
      cursor: { tasks: 2 },
    });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);

    const bSeqs = record(b);
    await settle();
    expect(b.getState().status).toBe('connected');
    backend.sendRaw({ type: 'batch', events: [epochEvent(3)], after: { tasks: 2 }, cursor: { tasks: 3 } });
    await settle();
    expect(bSeqs).toEqual([3]);
    expect(b.getState().rollback.state).toBe('ok');
  });

  it('resyncs a follower that was in the back/forward cache through a reset', async () => {
    // Its handlers stayed subscribed, so its cursor is theirs; but the
    // stream went back to a new epoch while it was frozen, and its cursor,
    // now ahead of the leader's, would drop the new epoch's events as
    // duplicates. Only the leader heard the reset: it tells the tab so.
    const { backend, aSeqs, b, bSeqs, resyncs } = await leaderAndFollower();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    backend.sendRaw({
      type: 'batch',
      events: [epochEvent(1), epochEvent(2)],
      after: { tasks: 0 },
      cursor: { tasks: 2 },
    });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.getState()).toMatchObject({ isLeader: false, cursor: { tasks: 2 } });
    // What a reset tells every tab: re-fetch (events 1 and 2 of the new
    // epoch came before it; the snapshot covers them).
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);

    backend.sendRaw({ type: 'batch', events: [epochEvent(3)], after: { tasks: 2 }, cursor: { tasks: 3 } });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2, 3]);
    expect(bSeqs).toEqual([1, 2, 3, 4, 5, 3]);
    expect(b.getState().rollback.state).toBe('ok');
  });

  it('asks no re-fetch of a follower back from the back/forward cache with no reset meanwhile', async () => {
    // (Apart from the test above: its new epoch is sent raw, which the memory
    // backend's log does not hold, and a follower back from the cache asks a
    // replay from its cursor, which that log would answer with the old epoch.)
    const { backend, aSeqs, b, bSeqs, resyncs } = await leaderAndFollower();
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    backend.publish({ service: 'tasks' });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5]);
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);
    expect(resyncs).toEqual([]);
  });

  it('resyncs a follower that had realtime off on its own through a reset', async () => {
    // Off by its own flags document, which the other tab does not hear here
    // (b's flags messages are kept from it: a tab posts what its document
    // changes to every tab), it hears no relayed frame: once back on, it
    // asks the leader what it missed.
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const aSeqs = record(a);
    await settle();
    let document = {};
    const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));
    class OwnFlagsChannel extends browser.channels.BroadcastChannel {
      override postMessage(message: unknown): void {
        if (!String(message).includes('"type":"flags"')) super.postMessage(message);
      }
    }
    const b = browser.tab({
      flagsUrl: { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 },
      platform: { fetch: fetch as typeof globalThis.fetch, BroadcastChannel: OwnFlagsChannel },
    });
    const bSeqs = record(b);
    const resyncs = recordResyncs(b);
    await vi.dynamicImportSettled();
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);

    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', isLeader: false });
    expect(a.getState().status).toBe('connected');
    backend.sendRaw({ type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch' });
    backend.sendRaw({
      type: 'batch',
      events: [epochEvent(1), epochEvent(2)],
      after: { tasks: 0 },
      cursor: { tasks: 2 },
    });
    await settle();
    expect(aSeqs).toEqual([1, 2, 3, 4, 5, 1, 2]);

    document = {};
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState()).toMatchObject({ status: 'connected', cursor: { tasks: 2 } });
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
    backend.sendRaw({ type: 'batch', events: [epochEvent(3)], after: { tasks: 2 }, cursor: { tasks: 3 } });
    await settle();
    expect(bSeqs).toEqual([1, 2, 3, 4, 5, 3]);
    expect(b.getState().rollback.state).toBe('ok');
  });

  it("keeps a new tab's cursor once its handlers got a relayed batch, even if the leader's is behind", async () => {
    // The leader relays a batch in which it found a gap, and waits for the
    // replay: its cursor is then behind what the new tab already delivered.
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const off = a.subscribe('tasks', () => {});
    await settle();
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    // Nobody wants tasks for a moment (within the idle grace): seq 3 is
    // dropped as unsubscribed and the leader's cursor stays at 2.
    off();
    backend.publish({ service: 'tasks' });
    const aSeqs = record(a);
    const b = browser.tab();
    const bSeqs = record(b);
    // Relayed to b before the leader hears b's hello; a gap for the leader.
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1000);
    backend.publish({ service: 'tasks' });
    await settle();
    expect(aSeqs).toEqual([3, 4, 5]);
    expect(bSeqs).toEqual([4, 5]);
    expect(b.getState().rollback.state).toBe('ok');
  });
});
