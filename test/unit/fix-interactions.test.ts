import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { RealtimeState } from '../../src/state';
// Loaded up front: the election imports it on demand, which fake timers would stall.
import '../../src/tabs/storage-lease-election';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import type { TransportConnection, TransportContext } from '../../src/transports/types';
import { FakeClock, flushPromises } from './connection/fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './connection/loop-fixture';
import { deniedLocks, deniedStorage } from './tabs/denied-platform';
import { page, record, recordCursors, settle } from './tabs/epoch-helpers';

// Interactions between the fixes of one day (214f050..ee5ab9e), each test
// failing on that code: the epoch ids vs the follower's gap asks, the
// leader's flags re-send vs the state's identity, the 401 retry mark vs a
// restarted loop, the Web Locks fallback vs a restarted election.

let browser: FakeBrowser;
beforeEach(() => {
  vi.useFakeTimers();
  browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
});
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('a follower back with a cursor of an epoch it missed', () => {
  // The cursor answer no longer asks for a replay from a missed epoch's seq
  // (missed-reset.test.ts), but a batch the leader relays before it hears the
  // hello is a gap against that old seq, and the gap asked at once: the
  // leader reconnected from the old epoch's seq, which a server replays the
  // new epoch from, or answers with a reset to every tab again.
  it('asks no replay from it for a batch relayed before the leader answered (bfcache)', async () => {
    const { backend } = browser;
    const cursors = recordCursors(backend);
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    record(b);
    const resyncs: unknown[] = [];
    b.on('resync', (info) => resyncs.push(info));
    await settle();
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    await settle();

    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    // Forward this time: the buffer expired, the stream goes on from 105.
    backend.skip('tasks', 100);
    backend.reset(['tasks'], 'buffer_expired');
    await settle();
    cursors.length = 0;
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    // Relayed before the leader hears b's hello: after 105, b is at 5.
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'missed_reset' }]);
    // Was [{ tasks: 5 }]: the leader reconnected from the old epoch's seq.
    expect(cursors).toEqual([]);
    expect(backend.connectionCount).toBe(1);
  });

  it('still asks for a real hole once the answer is in', async () => {
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    const bSeqs = record(b);
    await settle();
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pagehide'));
    await settle();
    backend.publish({ service: 'tasks' });
    await settle();
    browser.windowOf(b).dispatchEvent(page('pageshow'));
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1000);
    // The hole (4, and 5 relayed before the answer) replayed, each once.
    expect(bSeqs).toEqual([1, 2, 3, 4, 5]);
    // A later hole is asked for at once, as before.
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(bSeqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe("the leader's flags re-send", () => {
  // Every flags change now reaches a follower twice: the change (setFlags's
  // broadcast) and the leader's re-send of its view. Each was applied as a
  // new flags object, so the second, changing nothing, was a new snapshot
  // and a `statechange` (a render of every component reading the state).
  it('gives a follower one new snapshot per change, not one per message', async () => {
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    record(b);
    await settle();
    const c = browser.tab();
    record(c);
    await settle();
    const states: RealtimeState[] = [];
    c.subscribeState((state) => states.push(state));
    // Another follower's change: the leader applies it and re-sends its view.
    b.setFlags({ shadowMode: true });
    await settle();
    expect(states.map((state) => state.flags.shadowMode)).toEqual([true]);
    states.length = 0;
    // The leader's own change: its broadcast and its re-send.
    a.setFlags({ shadowMode: false });
    await settle();
    expect(states.map((state) => state.flags.shadowMode)).toEqual([false]);
    // Flags set to what they are change nothing at all.
    const before = c.getState();
    c.setFlags({ shadowMode: false });
    await settle();
    expect(c.getState()).toBe(before);
  });
});

describe('the "refreshed once" mark of a 401', () => {
  // The retry's own connection no longer clears the mark (auth-loop.test.ts);
  // only a token refresh on it did. A loop stopped before that (the tab went
  // idle, into the back/forward cache, lost leadership, a kill switch) kept
  // it, and the first 401 of its next run was taken for the second in a
  // row: a backoff and a failure for the breaker instead of a new token now.
  it('does not outlive a stop: the first 401 of the next run retries at once', async () => {
    const clock = new FakeClock();
    const attempts: TransportContext[] = [];
    /** What each connect does, by attempt: 'ok' welcomes, '401' refuses. */
    const script = ['401', 'ok', '401', 'ok'];
    const chain = {
      currentName: 'ws',
      connect: async (ctx: TransportContext): Promise<TransportConnection> => {
        attempts.push(ctx);
        const step = script[attempts.length - 1] ?? 'ok';
        queueMicrotask(() => {
          if (step === 'ok') ctx.onFrame(welcomeFrame(`c${attempts.length}`));
          else ctx.onFrame({ type: 'error', code: 'unauthorized', message: 'refused' });
        });
        return { update: async () => {}, close: () => {} };
      },
    };
    let tokens = 0;
    const loop = scriptedLoop(clock, chain, quietSink(), { getToken: () => `t${++tokens}` });
    onTestFinished(() => loop.stop());
    loop.start();
    for (let i = 0; i < 10; i++) await flushPromises();
    expect(attempts).toHaveLength(2);
    loop.stop();
    loop.start();
    // No time passes: the 401 of this run's first attempt is a first one.
    for (let i = 0; i < 10; i++) await flushPromises();
    // Was 3: the retry waited for the backoff.
    expect(attempts).toHaveLength(4);
    expect(loop.isConnected).toBe(true);
  });
});

describe('Web Locks refused by the browser', () => {
  // The election falls back to the storage lease, but each start of it (a
  // tab back from idle, from the back/forward cache) asked for the lock
  // again, was refused again, and reported the refusal again: an error in
  // the page's reports per start, for a fact known since the first.
  it('reports the refusal once, not at every start of the election', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const reported = vi.fn();
    vi.stubGlobal('reportError', reported);
    onTestFinished(() => {
      vi.unstubAllGlobals();
    });
    const tab = browser.tab({ platform: { locks: deniedLocks, storage: deniedStorage } });
    for (let round = 0; round < 3; round++) {
      const off = tab.subscribe('tasks', () => {});
      await vi.advanceTimersByTimeAsync(10_000);
      expect(tab.getState().status).toBe('connected');
      off();
      await vi.advanceTimersByTimeAsync(100);
      expect(tab.getState().status).toBe('idle');
    }
    // Was 3.
    expect(reported.mock.calls.length + errors.mock.calls.length).toBe(1);
  });
});
