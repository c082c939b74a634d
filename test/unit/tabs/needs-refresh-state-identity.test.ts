import { describe, expect, it, vi } from 'vitest';
import type { RealtimeState } from '../../../src/state';
import { NEEDS_REFRESH_MS } from '../../../src/tabs/tab-coordinator';
import { fakeBrowserEach } from './fake-browser-each';

// `getState()` is "the same object until something changes", and
// useRealtimeState() / `statechange` listeners rely on it: a new snapshot is
// a render of every component that reads the whole state. Every tab
// re-announces its needs every NEEDS_REFRESH_MS; each announcement reached
// the client's needsChanged, which built a new `leader` object even though
// `peers` had not moved, so every tab got a new snapshot (and a statechange)
// per peer every 10 s, forever, on a browser where nothing happened.

const browser = fakeBrowserEach();

describe('the needs re-announcement', () => {
  it('changes no tab state while nothing changes', async () => {
    const tabs = [browser().tab(), browser().tab(), browser().tab()];
    for (const tab of tabs) tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(browser().leaders()).toHaveLength(1);
    for (const tab of tabs) expect(tab.getState().leader.peers).toBe(2);

    const changes = tabs.map(() => [] as string[]);
    tabs.forEach((tab, i) => {
      let previous = tab.getState();
      tab.subscribeState((state: RealtimeState) => {
        const keys = Object.keys(state) as (keyof RealtimeState)[];
        changes[i]!.push(keys.filter((key) => state[key] !== previous[key]).join(','));
        previous = state;
      });
    });
    const before = tabs.map((tab) => tab.getState());

    await vi.advanceTimersByTimeAsync(6 * NEEDS_REFRESH_MS);

    expect(changes).toEqual([[], [], []]);
    tabs.forEach((tab, i) => {
      expect(tab.getState()).toBe(before[i]);
    });
  });

  it('still shows a peer that comes and one that goes', async () => {
    const a = browser().tab();
    a.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState().leader.peers).toBe(0);
    const b = browser().tab();
    b.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState().leader.peers).toBe(1);
    await b.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(a.getState().leader.peers).toBe(0);
  });
});
