import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/index';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing';

let browser: FakeBrowser;
beforeEach(() => {
  vi.useFakeTimers();
  browser = createFakeBrowser();
});
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

it('gets every event once when the leader tab crashes', async () => {
  const tabs = [browser.tab(), browser.tab()];
  const ids = tabs.map((tab) => {
    const seen: string[] = [];
    tab.subscribe('tasks', (events) => seen.push(...events.map((e) => e.eventId ?? '')));
    return seen;
  });
  await vi.advanceTimersByTimeAsync(100); // elect a leader, connect
  browser.backend.publish({ service: 'tasks', eventId: 'a' });
  await vi.advanceTimersByTimeAsync(0);

  const leader = browser.leaders()[0] as RealtimeClient;
  browser.crash(leader);
  browser.backend.publish({ service: 'tasks', eventId: 'b' }); // while nobody is connected
  await vi.advanceTimersByTimeAsync(100); // the other tab takes over, replays from its cursor
  browser.backend.publish({ service: 'tasks', eventId: 'c' });
  await vi.advanceTimersByTimeAsync(0);

  const other = tabs.findIndex((tab) => tab !== leader);
  expect(ids[other]).toEqual(['a', 'b', 'c']);
  expect(ids[tabs.indexOf(leader)]).toEqual(['a']); // a dead tab hears nothing
  expect(browser.tabs).toEqual([tabs[other]]);
  expect(browser.backend.connectionCount).toBe(1);
});
