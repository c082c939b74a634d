// @vitest-environment happy-dom
import { act, render } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import {
  type OptimisticMutation,
  type OptimisticMutationResult,
  RealtimeProvider,
  useOptimisticMutation,
  useRealtimeService,
} from '../../../src/react';
import { fakeTimersAndCleanup } from './fake-timer-cleanup';
import { setup } from './helpers';

// API.md writes `const mutate = useOptimisticMutation(…)`: the hook's result
// must work called as a function, as well as destructured ({ mutate, pending }).

const clients = fakeTimersAndCleanup();

function Editor(props: { ids: string[]; seen: Array<OptimisticMutation<string>> }) {
  useRealtimeService('tasks', () => {});
  const mutate = useOptimisticMutation<string>({
    mutate: async (_title, { mutationId }) => {
      props.ids.push(mutationId);
    },
    timeoutMs: 5000,
  });
  props.seen.push(mutate);
  return <p>pending {mutate.pending}</p>;
}

describe('useOptimisticMutation called as API.md writes it', () => {
  it('runs a mutation when the result itself is called, and still carries mutate and pending', async () => {
    const h = setup();
    clients.push(h.client);
    const ids: string[] = [];
    const seen: Array<OptimisticMutation<string>> = [];
    const view = render(
      <RealtimeProvider client={h.client}>
        <Editor ids={ids} seen={seen} />
      </RealtimeProvider>,
    );
    await act(() => vi.advanceTimersByTimeAsync(0));
    const first = seen.at(-1)!;
    expect(typeof first).toBe('function');

    let result!: Promise<OptimisticMutationResult>;
    act(() => {
      result = first('a');
    });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(ids).toHaveLength(1);
    expect(view.container.textContent).toBe('pending 1');
    const during = seen.at(-1)!;
    expect(during.pending).toBe(1);
    // The `.mutate` property stays the same function across renders.
    expect(during.mutate).toBe(first.mutate);

    await act(async () => {
      h.backend.publish({ service: 'tasks', mutationId: ids[0] });
    });
    await expect(result).resolves.toMatchObject({ status: 'visible', mutationId: ids[0] });
    expect(view.container.textContent).toBe('pending 0');
    expect(seen.at(-1)!.pending).toBe(0);
  });
});
