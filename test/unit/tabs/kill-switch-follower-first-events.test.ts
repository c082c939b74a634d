import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { record, settle } from './epoch-helpers';

// Found by the delivery model. A follower takes the leader's cursor as its
// own while no handler relies on its cursor (a new tab): until a leader
// answered its hello, or a handler got events. Two tabs that subscribe in
// the same tick say hello before either leads, so nobody answers, and a
// follower on a quiet service kept that "new tab" mark for good. Its handler
// relies on its cursor all the same: turned off by a kill switch thrown in
// it, it heard nothing of what the leader got until the switch reached the
// leader; back on, the leader's answer to its `sync` moved its cursor past
// those events instead of having them replayed.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

describe('a follower whose hello nobody answered', () => {
  it('gets what it missed while a kill switch of its own was on', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    const b = browser.tab();
    record(a);
    const seqs = record(b, 'notes');
    await settle();
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected', cursor: { notes: 0 } });

    b.setFlags({ emergencyDisable: true });
    // Before the switch reaches the leader: relayed, and b is off.
    backend.publish({ service: 'notes' });
    await settle();
    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(1_000);
    backend.publish({ service: 'notes' });
    await settle();
    expect(seqs).toEqual([1, 2]);
  });
});
