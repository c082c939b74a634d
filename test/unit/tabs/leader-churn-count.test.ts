import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './fake-browser-each';

// Leader churn (`leader.electionsPerHour`, the seed's "< 1 election/hour/tab"
// target) counted every election a tab won, its very first one too: every
// session with a leader read 1 in its first hour and failed the target, so
// the SLO said nothing. Churn is leadership moving between tabs: a win after
// this tab knew another leader.

const browser = fakeBrowserEach();

const settle = () => vi.advanceTimersByTimeAsync(100);

describe('leader churn', () => {
  it("is 0 for a tab's first election, with no leader before it", async () => {
    const a = browser().tab({ telemetry: { sampleRate: 0, measure: 'always' } });
    a.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await settle();
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(a.getState().leader).toMatchObject({ elections: 1, electionsPerHour: 0 });
    // The SLI tick refreshes the figures and the SLO.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.getState().sli.electionsPerHour).toBe(0);
    expect(a.getState().slo.electionsPerHour).toMatchObject({ value: 0, ok: true });
  });

  it('counts a takeover from a leader the tab knew, and each one after', async () => {
    const a = browser().tab();
    a.subscribe('tasks', () => {});
    await settle();
    const b = browser().tab();
    b.subscribe('tasks', () => {});
    await settle();
    expect(b.getState().isLeader).toBe(false);

    await a.close();
    await settle();
    expect(b.getState().isLeader).toBe(true);
    expect(b.getState().leader).toMatchObject({ elections: 1, electionsPerHour: 1 });

    // A third tab takes over from b: its first election, and a takeover all the same.
    const c = browser().tab();
    c.subscribe('tasks', () => {});
    await settle();
    await b.close();
    await settle();
    expect(c.getState().isLeader).toBe(true);
    expect(c.getState().leader.electionsPerHour).toBe(1);
  });
});
