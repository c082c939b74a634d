import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { fakeBrowserEach } from './fake-browser-each';

// The leader's rollback guard tripped and every tab mirrored its `disabled`.
// Then the tripped leader's tab went (closed, crashed, or its client closed):
// the follower that took over had a guard of its own that never tripped (the
// failed connects and invalid frames reach the leader alone), so it connected
// at once into the server that tripped the first one, and a trip "for the
// session" (cooldownMs 0, the default) ended with the tab that had it. The
// trip now travels with the leader's state: the next leader takes it over,
// with what was left of its cooldown.

const browser = fakeBrowserEach();

/** A leader and a follower, connected; the leader's guard trips on an invalid frame. */
async function trippedPair(cooldownMs: number) {
  const options = { rollback: { minSamples: 1, cooldownMs } };
  const a = browser().tab(options);
  const b = browser().tab(options);
  a.subscribe('tasks', () => {});
  const seqs: number[] = [];
  b.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
  await vi.advanceTimersByTimeAsync(1_000);
  expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
  browser().backend.publish({ service: 'tasks', type: 'task.updated' });
  await vi.advanceTimersByTimeAsync(100);
  const fallbacks: string[] = [];
  b.on('fallback', ({ reason }) => fallbacks.push(reason));
  browser().backend.sendRaw('garbage');
  await vi.advanceTimersByTimeAsync(100);
  expect(a.getState()).toMatchObject({
    status: 'disabled',
    rollback: { state: 'tripped', reason: 'error_rate' },
  });
  expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
  // The server still fails every connect: the next leader must not hammer it.
  browser().backend.failNextConnects(Infinity);
  return { a, b, seqs, fallbacks, connects: browser().backend.connectCount };
}

const ways: Array<[string, (tab: RealtimeClient) => Promise<void>]> = [
  ['crashes', async (tab) => browser().crash(tab)],
  [
    'is closed (pagehide)',
    async (tab) => {
      browser().windowOf(tab).dispatchEvent(new Event('pagehide'));
      browser().crash(tab);
    },
  ],
];

describe('the tripped leader tab goes: the next leader keeps the trip', () => {
  for (const [how, leave] of ways) {
    it(`${how}: off until the first trip's cooldown ends, no connect meanwhile, one fallback`, async () => {
      const { a, b, seqs, fallbacks, connects } = await trippedPair(30_000);
      await vi.advanceTimersByTimeAsync(10_000);
      await leave(a);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(b.getState()).toMatchObject({
        isLeader: true,
        status: 'disabled',
        disabledReason: 'auto_rollback',
        rollback: { state: 'tripped', reason: 'error_rate' },
      });
      // Up to the end of the first trip's cooldown (tripped at ~1.2 s, ends at ~31.2 s).
      await vi.advanceTimersByTimeAsync(18_500);
      expect(b.getState().status).toBe('disabled');
      expect(browser().backend.connectCount).toBe(connects);
      expect(fallbacks).toEqual(['auto_rollback']);

      // The server recovers; the trip ends when the first one would have.
      browser().backend.failNextConnects(0);
      browser().backend.publish({ service: 'tasks', type: 'task.updated' });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(b.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
      expect(browser().backend.connectCount).toBe(connects + 1);
      expect(seqs).toEqual([1, 2]);
      expect(fallbacks).toEqual(['auto_rollback']);
    });
  }

  it('a trip for the session (cooldownMs 0) stays for the session in the next leader', async () => {
    const { a, b, connects } = await trippedPair(0);
    browser().crash(a);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(b.getState()).toMatchObject({
      isLeader: true,
      status: 'disabled',
      disabledReason: 'auto_rollback',
    });
    expect(browser().backend.connectCount).toBe(connects);
  });

  it('a leader whose trip ended leaves no trip behind', async () => {
    const { a, b, connects } = await trippedPair(5_000);
    browser().backend.failNextConnects(0);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(b.getState().status).toBe('connected');
    browser().crash(a);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(b.getState()).toMatchObject({ isLeader: true, status: 'connected', rollback: { state: 'ok' } });
    expect(browser().backend.connectCount).toBe(connects + 2);
  });
});
