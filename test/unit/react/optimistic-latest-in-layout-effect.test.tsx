// @vitest-environment happy-dom
import { act, render } from '@testing-library/react';
import { useLayoutEffect } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { RealtimeProvider, useOptimisticMutation, useRealtimeService } from '../../../src/react';
import { fakeTimersAndCleanup } from './fake-timer-cleanup';
import { setup } from './helpers';

// The options of useOptimisticMutation are "read from the latest render on
// each call". A child's layout effect runs before its parent's layout
// effects in the same commit, so a parent that took in its options in a
// layout effect still held the previous render's when a child's layout
// effect called `mutate` on an update: the write went out with the old
// closure (here: to the task the page showed before).

const clients = fakeTimersAndCleanup();

function AutoSave(props: { value: string; save: (value: string) => void }) {
  // biome-ignore lint/correctness/useExhaustiveDependencies: saves when the value changes, not when the parent re-renders.
  useLayoutEffect(() => {
    props.save(props.value);
  }, [props.value]);
  return null;
}

function TaskPage(props: { taskId: string; sent: string[] }) {
  useRealtimeService('tasks', () => {});
  const { mutate } = useOptimisticMutation<string>({
    mutate: async (title) => {
      props.sent.push(`PATCH /tasks/${props.taskId} ${title}`);
    },
    timeoutMs: 5000,
  });
  return <AutoSave value={`title of ${props.taskId}`} save={(title) => void mutate(title)} />;
}

describe('useOptimisticMutation called from a child’s layout effect', () => {
  it('uses the options of the render being committed, not the one before', async () => {
    const h = setup();
    clients.push(h.client);
    const sent: string[] = [];
    const page = (client: RealtimeClient, taskId: string) => (
      <RealtimeProvider client={client}>
        <TaskPage taskId={taskId} sent={sent} />
      </RealtimeProvider>
    );
    const view = render(page(h.client, 'a'));
    await act(() => vi.advanceTimersByTimeAsync(0));
    view.rerender(page(h.client, 'b'));
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(sent).toEqual(['PATCH /tasks/a title of a', 'PATCH /tasks/b title of b']);
  });
});
