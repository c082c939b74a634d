// @vitest-environment happy-dom
import { act, cleanup, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { RealtimeProvider, useRealtimeService } from '../../../src/react';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing';

// The component under test.
function TaskList() {
  const [ids, setIds] = useState<string[]>([]);
  useRealtimeService('tasks', (events) => setIds((old) => [...old, ...events.map((e) => e.eventId ?? '')]));
  return <p>tasks: {ids.join(',')}</p>;
}

let browser: FakeBrowser;
beforeEach(() => {
  vi.useFakeTimers();
  browser = createFakeBrowser();
});
afterEach(async () => {
  cleanup(); // unmount: Testing Library does it by itself only with Vitest's `globals: true`
  await browser.close();
  vi.useRealTimers();
});

it('renders what the backend publishes', async () => {
  render(
    <RealtimeProvider client={browser.tab()}>
      <TaskList />
    </RealtimeProvider>,
  );
  // Let the tab connect first: a new subscription starts at the server's head,
  // so an event published before the welcome is not delivered (nor with a real server).
  await act(() => vi.advanceTimersByTimeAsync(100));
  act(() => {
    browser.backend.publish({ service: 'tasks', eventId: 'a' });
  });
  expect(screen.getByText('tasks: a')).toBeTruthy();
});
