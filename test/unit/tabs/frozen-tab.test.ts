import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { page, record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// Chrome freezes hidden background tabs (Page Lifecycle API: `freeze` and
// `resume` on the document). A frozen page runs no JS, so it relays nothing,
// but it kept its Web Lock (or lease) and its socket: a frozen leader stalled
// every other tab until it resumed. A frozen tab now leaves as one going into
// the back/forward cache does, and comes back as one restored from it. The
// browser version is test/browser/tabs-freeze.test.ts.

const browser = fakeBrowserEach();
const freeze = (type: 'freeze' | 'resume', tab: RealtimeClient) =>
  browser().documentOf(tab).dispatchEvent?.(new Event(type));

/** Three recording tabs opened one after another, the first one leading. */
async function threeTabs(strategy: 'locks' | 'storage' = 'locks') {
  const tabs: RealtimeClient[] = [];
  const seqs: number[][] = [];
  for (let i = 0; i < 3; i++) {
    tabs.push(browser().tab({ leader: { strategy } }));
    seqs.push(record(tabs[i]!));
    await vi.dynamicImportSettled(); // the lease's code
    await vi.advanceTimersByTimeAsync(1000);
  }
  expect(browser().leaders()).toEqual([tabs[0]]);
  return { tabs: tabs as [RealtimeClient, RealtimeClient, RealtimeClient], seqs, backend: browser().backend };
}

describe('a frozen tab', () => {
  for (const strategy of ['locks', 'storage'] as const) {
    it(`a frozen leader hands over at once and closes its connection (${strategy})`, async () => {
      const { tabs, seqs, backend } = await threeTabs(strategy);
      backend.publish({ service: 'tasks' });
      await settle();

      freeze('freeze', tabs[0]);
      expect(tabs[0].getState().isLeader).toBe(false);
      // Sooner than a lease left behind goes stale (takeoverMs, 3 s): the
      // lock or the lease is given up, not waited out (a lease follower
      // looks every takeoverMs / 3).
      await vi.advanceTimersByTimeAsync(strategy === 'locks' ? 50 : 2000);
      const next = browser().leaders();
      expect(next).toHaveLength(1);
      expect(next[0]).not.toBe(tabs[0]);
      expect(backend.connectionCount).toBe(1);
      backend.publish({ service: 'tasks' });
      backend.publish({ service: 'tasks' });
      await settle();
      expect(seqs[1]).toEqual([1, 2, 3]);
      expect(seqs[2]).toEqual([1, 2, 3]);

      freeze('resume', tabs[0]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(tabs[0].getState()).toMatchObject({ isLeader: false, status: 'connected' });
      backend.publish({ service: 'tasks' });
      await settle();
      for (const s of seqs) expect(s).toEqual([1, 2, 3, 4]);
      expect(browser().leaders()).toEqual(next);
      expect(backend.connectionCount).toBe(1);
    });
  }

  it('a frozen follower changes nothing for the others and catches up on resume', async () => {
    const { tabs, seqs, backend } = await threeTabs();
    const connects = backend.connectCount;
    freeze('freeze', tabs[1]);
    await settle();
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await settle();
    expect(browser().leaders()).toEqual([tabs[0]]);
    expect(backend.connectCount).toBe(connects);
    expect(seqs[2]).toEqual([1, 2]);

    freeze('resume', tabs[1]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(tabs[1].getState()).toMatchObject({ isLeader: false, status: 'connected' });
    backend.publish({ service: 'tasks' });
    await settle();
    for (const s of seqs) expect(s).toEqual([1, 2, 3]);
    expect(browser().leaders()).toEqual([tabs[0]]);
    expect(backend.connectionCount).toBe(1);
  });

  it('into the back/forward cache (pagehide, freeze) and back (resume, pageshow): one rejoin', async () => {
    const { tabs, seqs, backend } = await threeTabs();
    const win = browser().windowOf(tabs[0]);
    win.dispatchEvent(page('pagehide'));
    freeze('freeze', tabs[0]);
    await settle();
    expect(browser().leaders()).toEqual([tabs[1]]);
    backend.publish({ service: 'tasks' });
    await settle();
    const connects = backend.connectCount;

    freeze('resume', tabs[0]);
    win.dispatchEvent(page('pageshow'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(tabs[0].getState()).toMatchObject({ isLeader: false, status: 'connected' });
    backend.publish({ service: 'tasks' });
    await settle();
    for (const s of seqs) expect(s).toEqual([1, 2]);
    expect(browser().leaders()).toEqual([tabs[1]]);
    expect(backend.connectionCount).toBe(1);
    // At most the one reconnect of the leader that replays tab 0's hole.
    expect(backend.connectCount - connects).toBeLessThanOrEqual(1);
  });
});
