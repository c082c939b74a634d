import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './fake-browser-each';

// A follower mirrors its leader's `disabled`. When the leader's rollback
// guard tripped, the follower's own SLI tick (every 10 s) took the mirrored
// `auto_rollback` for its own guard's, lifted it to `connecting` and mirrored
// the leader again: `fallback` fired every tick and the status flapped.

const browser = fakeBrowserEach();

describe("a follower mirroring its leader's tripped rollback guard", () => {
  it('fires fallback once and keeps its status while the leader stays off', async () => {
    const options = { rollback: { minSamples: 1 } };
    const a = browser().tab(options);
    const b = browser().tab(options);
    a.subscribe('tasks', () => {});
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    const fallbacks: string[] = [];
    const statuses: string[] = [];
    b.on('fallback', ({ reason }) => fallbacks.push(reason));
    b.on('statechange', ({ status }) => {
      if (statuses.at(-1) !== status) statuses.push(status);
    });
    // Invalid frames reach the leader alone: its guard trips, not the follower's.
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(b.getState().rollback.state).not.toBe('tripped');

    // A minute of SLI ticks and channel traffic.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(fallbacks).toEqual(['auto_rollback']);
    expect(statuses).toEqual(['disabled']);
  });
});

describe("a follower mirroring its leader's tripped rollback guard, on real changes", () => {
  it('stays quiet on a flags change, and fires fallback again when the leader trips again', async () => {
    const options = { rollback: { minSamples: 1, cooldownMs: 30_000 } };
    const a = browser().tab(options);
    const b = browser().tab(options);
    a.subscribe('tasks', () => {});
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    const fallbacks: string[] = [];
    b.on('fallback', ({ reason }) => fallbacks.push(reason));
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    // A flags change reaches the follower twice (the change, the leader's re-send).
    a.setFlags({ shadowMode: true });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(fallbacks).toEqual(['auto_rollback']);

    // The cooldown ends: both tabs come back, then the leader trips again.
    await vi.advanceTimersByTimeAsync(40_000);
    expect(a.getState().status).toBe('connected');
    expect(b.getState().status).toBe('connected');
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'auto_rollback' });
    expect(fallbacks).toEqual(['auto_rollback', 'auto_rollback']);
  });
});
