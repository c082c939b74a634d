import { expect, it, vi } from 'vitest';
import { createFakeBrowser } from '../../../src/testing';

it('reconnects at once when the user comes back to the tab', async () => {
  vi.useFakeTimers();
  const browser = createFakeBrowser({ defaults: { backoff: { baseMs: 30_000, capMs: 60_000 } } });
  const tab = browser.tab();
  tab.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(100);

  browser.setVisibility(tab, 'hidden');
  browser.backend.drop(); // the network blips while the user is away
  await vi.advanceTimersByTimeAsync(100);
  expect(tab.getState().status).toBe('reconnecting'); // waiting out its backoff

  browser.setVisibility(tab, 'visible');
  await vi.advanceTimersByTimeAsync(0);
  expect(tab.getState().status).toBe('connected');
  expect(browser.leaders()).toEqual([tab]);

  await browser.close();
  vi.useRealTimers();
});
