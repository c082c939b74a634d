// @vitest-environment happy-dom
import { act, render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { MUTATION_ID_HEADER } from '../../../src/optimistic/mutation-header';
import {
  type OptimisticMutation,
  type OptimisticMutationResult,
  RealtimeProvider,
  type UseOptimisticMutationOptions,
  useOptimisticMutation,
  useRealtimeService,
} from '../../../src/react';
import { fakeTimersAndCleanup } from './fake-timer-cleanup';
import { setup } from './helpers';

// useOptimisticMutation on the memory backend, one tab, fake timers.

interface Vars {
  title: string;
}

const clients = fakeTimersAndCleanup();

/** What a test controls and observes of one hook instance. */
interface Probe {
  hook?: OptimisticMutation<Vars>;
  log: string[];
}

function Mutator(props: { probe: Probe; options: UseOptimisticMutationOptions<Vars> }) {
  // The echo is only seen while the service is subscribed.
  useRealtimeService('tasks', () => {});
  props.probe.hook = useOptimisticMutation(props.options);
  return <p>pending {props.probe.hook.pending}</p>;
}

/** A write the test answers by hand. */
function deferredWrite() {
  const calls: Array<{ vars: Vars; mutationId: string; init: RequestInit }> = [];
  let answer: { resolve: (v: unknown) => void; reject: (e: unknown) => void } | undefined;
  const mutate = (vars: Vars, ctx: { mutationId: string; init: (init?: RequestInit) => RequestInit }) => {
    calls.push({ vars, mutationId: ctx.mutationId, init: ctx.init({ method: 'POST' }) });
    return new Promise((resolve, reject) => {
      answer = { resolve, reject };
    });
  };
  return {
    calls,
    mutate,
    resolve: (v: unknown = { ok: true }) => answer?.resolve(v),
    reject: (e: unknown) => answer?.reject(e),
  };
}

async function start(
  options: Partial<UseOptimisticMutationOptions<Vars>> & {
    mutate: UseOptimisticMutationOptions<Vars>['mutate'];
  },
) {
  const h = setup();
  clients.push(h.client);
  const probe: Probe = { log: [] };
  const full: UseOptimisticMutationOptions<Vars> = {
    apply: (vars, id) => {
      probe.log.push(`apply ${vars.title} ${id === undefined ? '' : 'id'}`);
      return (reason) => probe.log.push(`undo ${vars.title} ${reason}`);
    },
    rollback: (vars, _id, reason) => probe.log.push(`rollback ${vars.title} ${reason}`),
    onVisible: (vars, latencyMs) => probe.log.push(`visible ${vars.title} ${latencyMs}`),
    ...options,
  };
  const wrap = (children: ReactNode) => <RealtimeProvider client={h.client}>{children}</RealtimeProvider>;
  const view = render(wrap(<Mutator probe={probe} options={full} />));
  await act(() => vi.advanceTimersByTimeAsync(0)); // connected, subscribed
  expect(h.client.getState().status).toBe('connected');
  const pendingText = () => view.container.textContent;
  return { ...h, probe, view, wrap, pendingText };
}

/** Starts a mutation inside act and returns its promise (settled later; not awaited here). */
function run(probe: Probe, vars: Vars): Promise<OptimisticMutationResult> {
  let result!: Promise<OptimisticMutationResult>;
  act(() => {
    result = probe.hook!.mutate(vars);
  });
  return result;
}

describe('useOptimisticMutation', () => {
  it('tracks before sending, sends the id in the header, and settles visible on the echo', async () => {
    const write = deferredWrite();
    const { backend, client, probe, pendingText } = await start({ mutate: write.mutate, timeoutMs: 5000 });
    const trackSpy = vi.spyOn(client, 'trackMutation');
    const result = run(probe, { title: 'a' });

    expect(probe.log).toEqual(['apply a id']);
    expect(write.calls).toHaveLength(1);
    const { mutationId, init } = write.calls[0]!;
    expect(mutationId).toMatch(/^m_/);
    expect((init.headers as Record<string, string>)[MUTATION_ID_HEADER]).toBe(mutationId);
    expect(init.method).toBe('POST');
    expect(trackSpy).toHaveBeenCalledWith(mutationId, { timeoutMs: 5000 });
    expect(pendingText()).toBe('pending 1');

    write.resolve();
    await act(() => vi.advanceTimersByTimeAsync(150));
    await act(async () => {
      backend.publish({ service: 'tasks', mutationId });
    });
    await expect(result).resolves.toEqual({ status: 'visible', latencyMs: 150, mutationId });
    expect(probe.log).toEqual(['apply a id', 'visible a 150']);
    expect(pendingText()).toBe('pending 0');

    // Nothing more happens at the timeout.
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(probe.log).toEqual(['apply a id', 'visible a 150']);
  });

  it('rolls back on timeout, once, even if the write succeeded', async () => {
    const write = deferredWrite();
    const { backend, probe, pendingText } = await start({ mutate: write.mutate, timeoutMs: 3000 });
    const result = run(probe, { title: 'lost' });
    write.resolve();
    await act(() => vi.advanceTimersByTimeAsync(2999));
    expect(probe.log).toEqual(['apply lost id']);
    await act(() => vi.advanceTimersByTimeAsync(1));
    await expect(result).resolves.toMatchObject({ status: 'timed_out', afterMs: 3000 });
    expect(probe.log).toEqual(['apply lost id', 'undo lost timed_out', 'rollback lost timed_out']);
    expect(pendingText()).toBe('pending 0');

    // A late echo changes nothing.
    await act(async () => {
      backend.publish({ service: 'tasks', mutationId: write.calls[0]!.mutationId });
    });
    expect(probe.log).toHaveLength(3);
  });

  it('rolls back on a timeout that passes while the write is still in flight, and not again when it fails', async () => {
    const write = deferredWrite();
    const { probe } = await start({ mutate: write.mutate, timeoutMs: 1000 });
    const result = run(probe, { title: 'slow' });
    await act(() => vi.advanceTimersByTimeAsync(1000));
    await expect(result).resolves.toMatchObject({ status: 'timed_out' });
    await act(async () => write.reject(new Error('504')));
    expect(probe.log).toEqual(['apply slow id', 'undo slow timed_out', 'rollback slow timed_out']);
  });

  it('rolls back when the write fails, cancels the tracking, and ignores a later echo', async () => {
    const write = deferredWrite();
    const { backend, client, probe, pendingText } = await start({ mutate: write.mutate, timeoutMs: 5000 });
    const trackSpy = vi.spyOn(client, 'trackMutation');
    const result = run(probe, { title: 'b' });
    const tracked = trackSpy.mock.results[0]!.value as ReturnType<RealtimeClient['trackMutation']>;
    const error = new Error('500');
    await act(async () => write.reject(error));
    await expect(result).resolves.toEqual({ status: 'error', error, mutationId: tracked.id });
    expect(tracked.status()).toBe('cancelled');
    expect(probe.log).toEqual(['apply b id', 'undo b error', 'rollback b error']);
    expect(pendingText()).toBe('pending 0');

    await act(async () => {
      backend.publish({ service: 'tasks', mutationId: tracked.id });
    });
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(probe.log).toHaveLength(3);
  });

  it('treats a write that throws synchronously as a failed write', async () => {
    const { probe } = await start({
      mutate: () => {
        throw new Error('sync');
      },
    });
    const result = run(probe, { title: 'c' });
    await expect(result).resolves.toMatchObject({ status: 'error', error: new Error('sync') });
    expect(probe.log).toEqual(['apply c id', 'undo c error', 'rollback c error']);
  });

  it('counts an echo that beats the HTTP answer, and keeps it visible even if the answer then fails', async () => {
    const write = deferredWrite();
    const { backend, probe } = await start({ mutate: write.mutate, timeoutMs: 5000 });
    const result = run(probe, { title: 'fast' });
    await act(() => vi.advanceTimersByTimeAsync(40));
    await act(async () => {
      backend.publish({ service: 'tasks', mutationId: write.calls[0]!.mutationId });
    });
    await expect(result).resolves.toMatchObject({ status: 'visible', latencyMs: 40 });
    expect(probe.log).toEqual(['apply fast id', 'visible fast 40']);
    // The connection dropped before the answer: the stream already showed the write.
    await act(async () => write.reject(new Error('network')));
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(probe.log).toEqual(['apply fast id', 'visible fast 40']);
  });

  it('on unmount cancels pending trackings and rolls each back once; later answers are ignored', async () => {
    const write = deferredWrite();
    const { client, probe, view } = await start({ mutate: write.mutate, timeoutMs: 5000 });
    const trackSpy = vi.spyOn(client, 'trackMutation');
    const first = run(probe, { title: 'x' });
    const firstWrite = write.reject;
    const second = run(probe, { title: 'y' });
    const tracked = trackSpy.mock.results.map((r) => r.value as ReturnType<RealtimeClient['trackMutation']>);

    view.unmount();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(tracked.map((t) => t.status())).toEqual(['cancelled', 'cancelled']);
    await expect(first).resolves.toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    await expect(second).resolves.toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(probe.log.filter((l) => l.startsWith('rollback')).sort()).toEqual([
      'rollback x cancelled',
      'rollback y cancelled',
    ]);

    // The writes answer (or fail) afterwards, the timeout passes: nothing more.
    firstWrite(new Error('late failure'));
    write.resolve();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probe.log.filter((l) => l.startsWith('rollback') || l.startsWith('undo'))).toHaveLength(4);
    expect(client.getState().status).not.toBe('closed');
  });

  it('does not send or roll back when apply throws', async () => {
    const mutate = vi.fn(() => Promise.resolve());
    const rollback = vi.fn();
    const { probe } = await start({
      mutate,
      rollback,
      apply: () => {
        throw new Error('bad input');
      },
    });
    const result = run(probe, { title: 'z' });
    await expect(result).resolves.toMatchObject({ status: 'error', error: new Error('bad input') });
    expect(mutate).not.toHaveBeenCalled();
    expect(rollback).not.toHaveBeenCalled();
  });

  it('uses the latest render’s callbacks and keeps mutate stable', async () => {
    const write = deferredWrite();
    const { backend, probe, view, wrap } = await start({ mutate: write.mutate });
    const stable = probe.hook!.mutate;
    const seen: string[] = [];
    view.rerender(
      wrap(
        <Mutator
          probe={probe}
          options={{ mutate: write.mutate, onVisible: (vars) => seen.push(`new ${vars.title}`) }}
        />,
      ),
    );
    expect(probe.hook!.mutate).toBe(stable);
    const result = run(probe, { title: 'q' });
    await act(async () => {
      backend.publish({ service: 'tasks', mutationId: write.calls[0]!.mutationId });
    });
    await expect(result).resolves.toMatchObject({ status: 'visible' });
    expect(seen).toEqual(['new q']);
  });
});
