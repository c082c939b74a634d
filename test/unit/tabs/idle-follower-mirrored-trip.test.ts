import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './fake-browser-each';

// A follower mirrors its leader's `disabled`. One that went idle (its last
// subscriber gone, idleGraceMs past) while its leader's rollback guard was
// tripped kept showing `disabled / auto_rollback` until it subscribed again
// (`#leave` kept any `disabled`): the trip was the leader's connection's,
// which an idle tab follows no more, and the leader's cooldown may have
// ended meanwhile. It shows `idle` now, as any idle tab; a reason of its own
// (its guard's trip, test/unit/rollback-cooldown-idle.test.ts, or a kill
// switch, below) still keeps it `disabled`. Web Locks and the storage lease alike.

const browser = fakeBrowserEach();

describe.each([
  ['the storage lease', { leader: { strategy: 'storage' }, platform: { locks: undefined } }],
  ['Web Locks', {}],
] as const)("an idle follower that mirrored its leader's trip, with %s", (_, election) => {
  const options = { ...election, rollback: { minSamples: 1 } };

  async function trippedLeaderAndFollower() {
    const a = browser().tab(options);
    const b = browser().tab(options);
    a.subscribe('tasks', () => {});
    const unsubscribe = b.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    // Invalid frames reach the leader alone: its guard trips, not the follower's.
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(b.getState().rollback.state).toBe('ok');
    return { a, b, unsubscribe };
  }

  it('shows idle, and the trip again once subscribed while the leader is still off', async () => {
    const { a, b, unsubscribe } = await trippedLeaderAndFollower();
    const fallbacks: string[] = [];
    b.on('fallback', ({ reason }) => fallbacks.push(reason));
    unsubscribe();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'idle', disabledReason: undefined, isLeader: false });
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(fallbacks).toEqual([]);

    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
  });

  it('keeps a kill switch, which is its own too, while idle', async () => {
    const { a, b, unsubscribe } = await trippedLeaderAndFollower();
    a.setFlags({ emergencyDisable: true });
    await vi.advanceTimersByTimeAsync(100);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    unsubscribe();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
  });
});
