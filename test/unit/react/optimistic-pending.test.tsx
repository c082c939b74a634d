// @vitest-environment happy-dom
import { act, render } from '@testing-library/react';
import { useEffect, useLayoutEffect } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { RealtimeProvider, useOptimisticMutation, useRealtimeService } from '../../../src/react';
import { fakeTimersAndCleanup } from './fake-timer-cleanup';
import { setup } from './helpers';

// `pending` must count a mutation started before the hook's own mount effect
// ran: a child's effect (effects run children first) or a layout effect
// calling `mutate` on mount. The mutation is in the running set (and is
// cancelled on unmount), so `pending` must say 1 while it waits for its echo.

const clients = fakeTimersAndCleanup();

function AutoSave(props: { save: () => void; layout: boolean }) {
  const useMountEffect = props.layout ? useLayoutEffect : useEffect;
  useMountEffect(() => {
    props.save();
  }, []);
  return null;
}

function Editor(props: { layout: boolean; rollbacks: string[] }) {
  useRealtimeService('tasks', () => {});
  const { mutate, pending } = useOptimisticMutation<string>({
    mutate: () => new Promise(() => {}), // the write's answer never matters here
    rollback: (_vars, _id, reason) => props.rollbacks.push(reason),
    timeoutMs: 5000,
  });
  return (
    <>
      <p>pending {pending}</p>
      <AutoSave layout={props.layout} save={() => void mutate('draft')} />
    </>
  );
}

describe('useOptimisticMutation pending count', () => {
  for (const layout of [false, true]) {
    it(`counts a mutation started from a child's ${layout ? 'layout ' : ''}effect on mount`, async () => {
      const h = setup();
      clients.push(h.client);
      const rollbacks: string[] = [];
      const view = render(
        <RealtimeProvider client={h.client}>
          <Editor layout={layout} rollbacks={rollbacks} />
        </RealtimeProvider>,
      );
      await act(() => vi.advanceTimersByTimeAsync(0));
      // One mutation is running (it is cancelled on unmount, see below).
      expect(view.container.textContent).toBe('pending 1');

      view.unmount();
      await act(() => vi.advanceTimersByTimeAsync(0));
      expect(rollbacks).toEqual(['cancelled']);
    });
  }
});
