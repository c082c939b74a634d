import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { FakeTabOptions } from '../../../src/testing/fake-browser';
import { page, record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A tab that read a kill switch from its own flags URL holds it as its own
// (ownFlags): a leader's answer to its hello is merged "a disable wins". If
// the document lifted the switch while the tab was out of the channel (idle,
// frozen, in the back/forward cache), another tab's poll posted the lift to
// every tab but that one; back, it heard the lift only in the leader's
// answer, whose document its poller took for its last: its own switch won
// the merge, and its next poll of the unchanged document was no change. It
// stayed `disabled` until the document changed again, while every other tab
// was connected. Now a flag it read from its own document before it left,
// which the leader names as its flags URL's (`fromUrl`), takes the leader's
// value: the leader read the newer document.

const browser = fakeBrowserEach();
let document: Record<string, unknown> = {};
/** How long x's flags URL takes to answer: a network's round trip, longer than the tabs' channel. */
const X_FETCH_MS = 500;
const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));
const slowFetch = vi.fn(async () => {
  const body = JSON.stringify(document);
  await new Promise((resolve) => setTimeout(resolve, X_FETCH_MS));
  return new Response(body, { status: 200 });
});

beforeEach(() => {
  document = {};
});

const settle = () => vi.advanceTimersByTimeAsync(100);
const url = 'http://127.0.0.1:1/flags';
const X_INTERVAL_MS = 30_000;
const switchOn = { status: 'disabled', disabledReason: 'emergency_disable' } as const;

type Strategy = 'locks' | 'storage';
type Away = 'idle' | 'bfcache' | 'frozen';

/**
 * A BroadcastChannel whose leader's messages to this tab alone (`to`: the
 * answer to its hello, the re-sends of its flags) arrive `ms` late.
 */
function lateAnswers(ms: number) {
  return class extends browser().channels.BroadcastChannel {
    override dispatchEvent(event: Event): boolean {
      const data = String((event as MessageEvent).data);
      if (!data.includes('"type":"flags"') || !data.includes('"to":')) return super.dispatchEvent(event);
      setTimeout(() => super.dispatchEvent(event), ms);
      return true;
    }
  };
}

/**
 * `x` (polling every 30 s) opens first and reads the switch at its first
 * poll (of `first`), so the switch is its own; `a` (every 5 s) opens after
 * and takes it from x. `a` records `tasks`.
 */
async function xReadTheSwitch(
  strategy: Strategy,
  xOptions: FakeTabOptions = {},
  first: Record<string, unknown> = { emergencyDisable: true },
) {
  document = first;
  const x = browser().tab({
    leader: { strategy },
    flagsUrl: { url, intervalMs: X_INTERVAL_MS },
    ...xOptions,
    platform: { fetch: slowFetch as typeof globalThis.fetch, ...xOptions.platform },
  });
  const off = x.subscribe('tasks', () => {});
  await vi.dynamicImportSettled();
  await vi.advanceTimersByTimeAsync(1_000);
  const a = browser().tab({
    leader: { strategy },
    flagsUrl: { url, intervalMs: 5_000 },
    platform: { fetch: fetch as typeof globalThis.fetch },
  });
  const seenA = record(a);
  await vi.dynamicImportSettled();
  await settle();
  expect(x.getState()).toMatchObject({ isLeader: true, ...switchOn });
  expect(a.getState()).toMatchObject({ isLeader: false, ...switchOn });
  return { x, a, seenA, off };
}

/** Takes `x` out of the channel as `away` says; returns what brings it back. */
function leave(x: RealtimeClient, away: Away, off: () => void): () => number[] {
  const event = (type: string) => () => {
    const target = type.startsWith('page') ? browser().windowOf(x) : browser().documentOf(x);
    target.dispatchEvent?.(type.startsWith('page') ? page(type as 'pagehide') : new Event(type));
  };
  if (away === 'idle') {
    off();
    return () => record(x);
  }
  const [go, back] = away === 'bfcache' ? ['pagehide', 'pageshow'] : ['freeze', 'resume'];
  const seen = record(x);
  event(go!)();
  return () => {
    event(back!)();
    return seen;
  };
}

async function expectConnected(tabs: RealtimeClient[], seen: number[][]) {
  for (const tab of tabs)
    expect(tab.getState()).toMatchObject({ status: 'connected', flags: { emergencyDisable: false } });
  const { seq } = browser().backend.publish({ service: 'tasks' });
  await settle();
  for (const seqs of seen) expect(seqs.at(-1)).toBe(seq);
}

for (const strategy of ['locks', 'storage'] as const) {
  for (const away of ['idle', 'bfcache', 'frozen'] as const) {
    describe(`a flags URL's switch lifted while the tab that read it was away (${strategy}, ${away})`, () => {
      it('set to false: lifted there at its return', async () => {
        const { x, a, seenA, off } = await xReadTheSwitch(strategy);
        const back = leave(x, away, off);
        await settle();
        expect(x.getState().isLeader).toBe(false);
        // a's poll lifts it in every tab in the channel: not in x.
        document = { emergencyDisable: false };
        await vi.advanceTimersByTimeAsync(5_000);
        expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
        expect(x.getState().flags.emergencyDisable).toBe(true);

        const seenX = back();
        // The leader's answer, before x's own poll (idle: at its return) answers.
        await vi.advanceTimersByTimeAsync(X_FETCH_MS / 2);
        await settle();
        await expectConnected([x, a], [seenX, seenA]);
        // x's own polls of the unchanged document keep it so.
        await vi.advanceTimersByTimeAsync(2 * X_INTERVAL_MS);
        await expectConnected([x, a], [seenX, seenA]);
      });

      // Passed before too: the leader does not name a flag its document left
      // out, and x's poller keeps the switch in its last document, so x's next
      // poll (at once back from idle) is a change, which lifts it.
      it('line deleted: lifted there at its next poll at the latest', async () => {
        const { x, a, seenA, off } = await xReadTheSwitch(strategy);
        const back = leave(x, away, off);
        await settle();
        document = {};
        await vi.advanceTimersByTimeAsync(5_000);
        expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
        const seenX = back();
        await vi.advanceTimersByTimeAsync(X_INTERVAL_MS);
        await expectConnected([x, a], [seenX, seenA]);
        await vi.advanceTimersByTimeAsync(2 * X_INTERVAL_MS);
        await expectConnected([x, a], [seenX, seenA]);
      });
    });
  }
}

// What the answer of a leader must still not lift in the tab back from idle.
for (const strategy of ['locks', 'storage'] as const) {
  describe(`a tab back from idle, its flags URL's switch lifted meanwhile (${strategy})`, () => {
    it('keeps a switch thrown with setFlags while it was idle', async () => {
      const { x, a, off } = await xReadTheSwitch(strategy);
      off();
      await settle();
      // Out of the channel: this tab's own, which must hold in it.
      x.setFlags({ emergencyDisable: true });
      document = { emergencyDisable: false };
      await vi.advanceTimersByTimeAsync(5_000);
      expect(a.getState().status).toBe('connected');
      record(x);
      await vi.advanceTimersByTimeAsync(2 * X_INTERVAL_MS);
      expect(x.getState()).toMatchObject(switchOn);
      expect(a.getState().status).toBe('connected');
    });

    it("keeps the page's own switch, which its document left as it was", async () => {
      // Its document does not name it: x's switch is its page's, and a takes it from x.
      const { x, a, off } = await xReadTheSwitch(strategy, { flags: { emergencyDisable: true } }, {});
      off();
      await settle();
      document = { emergencyDisable: false };
      await vi.advanceTimersByTimeAsync(5_000);
      expect(a.getState().status).toBe('connected');
      record(x);
      await vi.advanceTimersByTimeAsync(2 * X_INTERVAL_MS);
      expect(x.getState()).toMatchObject(switchOn);
    });

    it('keeps a switch its own poll read since, against an answer older than that', async () => {
      const Channel = lateAnswers(X_FETCH_MS * 2);
      const { x, a, off } = await xReadTheSwitch(strategy, { platform: { BroadcastChannel: Channel } });
      off();
      await settle();
      document = { emergencyDisable: false };
      await vi.advanceTimersByTimeAsync(5_000);
      expect(a.getState().status).toBe('connected');
      // Thrown again (a changed document) as x comes back, before a's next poll.
      document = { emergencyDisable: true, disabledServices: ['other'] };
      let fallbacks = 0;
      x.on('fallback', () => fallbacks++);
      const lifted: unknown[] = [];
      x.subscribeState(
        ({ status, flags }) => (status !== 'disabled' || !flags.emergencyDisable) && lifted.push(status),
      );
      record(x);
      // x's poll reads it and posts it to a; a's answer, with its older view, comes after.
      await vi.advanceTimersByTimeAsync(X_FETCH_MS + 100);
      expect(a.getState()).toMatchObject(switchOn);
      await vi.advanceTimersByTimeAsync(X_FETCH_MS * 4);
      expect(x.getState()).toMatchObject(switchOn);
      expect(lifted).toEqual([]);
      expect(fallbacks).toBe(0);
    });
  });
}
