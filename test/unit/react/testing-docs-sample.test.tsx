// @vitest-environment happy-dom
import { act, cleanup, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RealtimeProvider, useRealtimeService } from '../../../src/react';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing';

// docs/testing.md, "React components": a component under a fake browser's
// tab, with `publish` wrapped in act(), renders the event at once.

function TaskList() {
  const [ids, setIds] = useState<string[]>([]);
  useRealtimeService('tasks', (events) => setIds((old) => [...old, ...events.map((e) => e.eventId ?? '')]));
  return <p>tasks: {ids.join(',')}</p>;
}

let browser: FakeBrowser | undefined;
afterEach(async () => {
  cleanup();
  await browser?.close();
  vi.useRealTimers();
});

describe('docs/testing.md React sample', () => {
  it('renders what the backend publishes inside act()', async () => {
    vi.useFakeTimers();
    browser = createFakeBrowser();
    const fake = browser;
    const tab = fake.tab();
    render(
      <RealtimeProvider client={tab}>
        <TaskList />
      </RealtimeProvider>,
    );
    await act(() => vi.advanceTimersByTimeAsync(100)); // elect, connect
    act(() => {
      fake.backend.publish({ service: 'tasks', eventId: 'a' });
    });
    expect(screen.getByText('tasks: a')).toBeTruthy();
  });
});
