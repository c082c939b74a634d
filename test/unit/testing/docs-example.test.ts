import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient, RealtimeEvent } from '../../../src/index';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing';

// The code under test: an app's list of task ids, kept up to date by realtime,
// that reloads itself when the server says it cannot replay.
function createTaskList(rt: RealtimeClient, reload: () => string[]) {
  const list = { ids: reload(), fellBack: false };
  const offEvents = rt.subscribe('tasks', (events: RealtimeEvent[]) => {
    for (const event of events) list.ids.push(event.eventId ?? `#${event.seq}`);
  });
  const offResync = rt.on('resync', () => {
    list.ids = reload();
  });
  const offFallback = rt.on('fallback', () => {
    list.fellBack = true; // the app would poll from here on
  });
  return {
    list,
    stop() {
      offEvents();
      offResync();
      offFallback();
    },
  };
}

describe('the task list', () => {
  let browser: FakeBrowser;

  beforeEach(() => {
    vi.useFakeTimers();
    browser = createFakeBrowser();
  });

  afterEach(async () => {
    await browser.close();
    vi.useRealTimers();
  });

  it('adds every event once, even across a gap', async () => {
    const { list } = createTaskList(browser.tab(), () => []);
    await vi.advanceTimersByTimeAsync(0); // connect

    browser.backend.publish({ service: 'tasks', eventId: 'a' });
    browser.backend.loseNextBatches(1); // 'b' never arrives: a gap
    browser.backend.publish({ service: 'tasks', eventId: 'b' });
    browser.backend.publish({ service: 'tasks', eventId: 'c' });
    await vi.advanceTimersByTimeAsync(1000); // the client replays from its cursor

    expect(list.ids).toEqual(['a', 'b', 'c']);
  });

  it('reloads on a reset, and falls back when access is revoked', async () => {
    const { list } = createTaskList(browser.tab(), () => ['from-server']);
    await vi.advanceTimersByTimeAsync(0);

    browser.backend.publish({ service: 'tasks', eventId: 'a' });
    browser.backend.reset(['tasks']);
    expect(list.ids).toEqual(['from-server']);

    browser.backend.error('forbidden', 'access revoked');
    expect(list.fellBack).toBe(true);
  });

  it('shares one connection between tabs, and survives the leader closing', async () => {
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const lists = tabs.map((tab) => createTaskList(tab, () => []).list);
    await vi.advanceTimersByTimeAsync(100); // elect a leader, connect, relay

    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectionCount).toBe(1);
    browser.backend.publish({ service: 'tasks', eventId: 'a' });
    await vi.advanceTimersByTimeAsync(0);
    expect(lists.map((l) => l.ids)).toEqual([['a'], ['a'], ['a']]);

    const leader = browser.leaders()[0] as RealtimeClient;
    await leader.close(); // the user closes that tab
    browser.backend.publish({ service: 'tasks', eventId: 'b' }); // while nobody is connected
    await vi.advanceTimersByTimeAsync(100);

    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectionCount).toBe(1);
    for (const [i, tab] of tabs.entries()) {
      if (tab !== leader) expect(lists[i]?.ids).toEqual(['a', 'b']);
    }
  });
});
