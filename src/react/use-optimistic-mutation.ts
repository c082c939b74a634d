import { useCallback, useEffect, useInsertionEffect, useMemo, useRef, useState } from 'react';
import { newMutationId, withMutationId } from '../optimistic/mutation-header';
import type { MutationOutcome, TrackedMutation } from '../optimistic/tracked-mutation';
import { reportListenerError } from '../util/emitter';
import { useClientFor } from './context';

/** Why an optimistic change is rolled back. */
export type OptimisticRollbackReason = 'timed_out' | 'error' | 'cancelled';

/** What the app's write receives besides its variables. */
export interface OptimisticMutationContext {
  /** The id of this mutation, already tracked. */
  readonly mutationId: string;
  /**
   * Returns a copy of `init` whose headers carry the mutation id
   * (`X-Realtime-Mutation-Id`, see `withMutationId`): `fetch(url, init({ method: 'POST', body }))`.
   */
  readonly init: (init?: RequestInit) => RequestInit;
}

/** Options of {@link useOptimisticMutation}. Read from the latest render on each call. */
export interface UseOptimisticMutationOptions<TVars> {
  /**
   * Sends the app's write. It must carry `ctx.mutationId` to the backend
   * (`ctx.init` adds the header), which echoes it in the resulting events.
   * A rejection (or a synchronous throw) counts as a failed write.
   */
  mutate: (vars: TVars, ctx: OptimisticMutationContext) => Promise<unknown>;
  /**
   * Applies the change optimistically, before the write is sent. It may
   * return an undo function, called (with the reason) on rollback, before
   * `rollback`. If it throws, nothing is sent and `mutate()` resolves
   * `{ status: 'error' }` without a rollback (nothing was applied).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets an apply that returns nothing type-check.
  apply?: (vars: TVars, mutationId: string) => void | ((reason: OptimisticRollbackReason) => void);
  /**
   * Undoes the optimistic change, at most once per mutation: the echo did not
   * come in time (`timed_out`), the write failed (`error`), or the tracking
   * was cancelled before a verdict (`cancelled`: the component unmounted,
   * the client closed, or the mutation was evicted from a full pending set).
   * Return early on `cancelled` to keep the change when the data outlives
   * the component.
   */
  rollback?: (vars: TVars, mutationId: string, reason: OptimisticRollbackReason) => void;
  /** The echo arrived in time: the change is now confirmed by the stream. */
  onVisible?: (vars: TVars, latencyMs: number, mutationId: string) => void;
  /** How long to wait for the echo, in ms. Default: the client's `optimistic.timeoutMs`. */
  timeoutMs?: number;
}

/**
 * How one `mutate()` call ended: the tracker's outcome (`visible`,
 * `timed_out`, `cancelled`), or `error` when the write (or `apply`) threw.
 * Always carries the mutation id.
 */
export type OptimisticMutationResult =
  | (MutationOutcome & { readonly mutationId: string })
  | { readonly status: 'error'; readonly error: unknown; readonly mutationId: string };

/**
 * What {@link useOptimisticMutation} returns: `mutate` and `pending`, and it
 * can be called as `mutate` itself (`const mutate = useOptimisticMutation(…)`,
 * as API.md writes it). Called that way it is a new function whenever
 * `pending` changes; where identity matters (an effect's dependencies, a
 * memoised child's prop), pass the stable `.mutate`.
 */
export interface OptimisticMutation<TVars> {
  (vars: TVars): Promise<OptimisticMutationResult>;
  /**
   * Runs one optimistic mutation. Resolves as soon as its verdict is known
   * (echo, timeout, write error or cancel), which may be before the write's
   * HTTP answer; never rejects. Stable across renders.
   */
  mutate: (vars: TVars) => Promise<OptimisticMutationResult>;
  /** Mutations of this component without a verdict yet. */
  pending: number;
}

interface Running {
  readonly tracked: TrackedMutation;
  /** Runs the verdict once; later calls do nothing. */
  readonly finish: (outcome: OptimisticMutationResult) => void;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    reportListenerError(error);
  }
}

/**
 * An optimistic write, measured and reconciled by the realtime stream.
 *
 * Each `mutate(vars)`:
 * 1. creates a mutation id and tracks it (`client.trackMutation`) *before*
 *    sending, as the echo may come back before the HTTP answer;
 * 2. calls `apply` (the optimistic change);
 * 3. calls the app's `mutate` with the id (`ctx.init` puts it in the headers);
 * 4. settles once, on the first of: the echo (`onVisible`), the timeout
 *    (`rollback('timed_out')`), the write failing (`rollback('error')`, the
 *    tracking is cancelled), or a cancel (`rollback('cancelled')`).
 *
 * A write that fails after its echo arrived stays visible (the stream showed
 * it happened); one that fails after the timeout is not rolled back again.
 * Unmounting (or a new client from the provider) cancels this component's
 * pending mutations: each is rolled back once with `cancelled`, and their
 * writes' later answers are ignored. Keep the hook in a component that lives
 * as long as the optimistic data, or ignore `cancelled` in `rollback`.
 *
 * The echo is only seen while some component subscribes to the service the
 * write's events come on (`useRealtimeService`), and not for a write to a
 * property no tab of the browser receives (each filtering on another): the
 * server does not send it, so that one times out.
 *
 * @example
 * const { mutate, pending } = useOptimisticMutation<Task>({
 *   apply: (task, id) => { setTasks((t) => [...t, { ...task, id, pending: true }]); return () => setTasks((t) => t.filter((x) => x.id !== id)); },
 *   mutate: (task, { init }) => fetch('/api/tasks', init({ method: 'POST', body: JSON.stringify(task) })).then(assertOk),
 *   timeoutMs: 5000,
 * });
 */
export function useOptimisticMutation<TVars>(
  options: UseOptimisticMutationOptions<TVars>,
): OptimisticMutation<TVars> {
  const client = useClientFor('useOptimisticMutation');
  const latest = useRef(options);
  // Taken in before any layout effect of the commit runs (a child's runs
  // before this component's): one that calls `mutate` must get these options.
  useInsertionEffect(() => {
    latest.current = options;
  });
  const [pending, setPending] = useState(0);
  const running = useRef(new Set<Running>());
  const mounted = useRef(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new client (the provider's changed) cancels the trackings made on the old one.
  useEffect(() => {
    mounted.current = true;
    const live = running.current;
    // Mutations started before this effect ran (from a child's effect or a
    // layout effect on mount: both run first) are running but not counted.
    setPending(live.size);
    return () => {
      mounted.current = false;
      // Each settles as cancelled through its `result`, which rolls back once.
      for (const entry of [...live]) entry.tracked.cancel();
    };
  }, [client]);

  const mutate = useCallback(
    (vars: TVars): Promise<OptimisticMutationResult> => {
      const opts = latest.current;
      const mutationId = newMutationId();
      let tracked: TrackedMutation;
      try {
        tracked = client.trackMutation(
          mutationId,
          opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs },
        );
      } catch (error) {
        // A closed client or a bad timeoutMs: nothing applied, nothing sent.
        return Promise.resolve({ status: 'error', error, mutationId });
      }

      return new Promise<OptimisticMutationResult>((resolve) => {
        let undo: ((reason: OptimisticRollbackReason) => void) | undefined;
        let done = false;
        const entry: Running = {
          tracked,
          finish: (outcome) => {
            if (done) return;
            done = true;
            running.current.delete(entry);
            if (mounted.current) setPending(running.current.size);
            const current = latest.current;
            if (outcome.status === 'visible') {
              const { onVisible } = current;
              if (onVisible) safely(() => onVisible(vars, outcome.latencyMs, mutationId));
            } else {
              const reason: OptimisticRollbackReason =
                outcome.status === 'timed_out'
                  ? 'timed_out'
                  : outcome.status === 'error'
                    ? 'error'
                    : 'cancelled';
              const undoFn = undo;
              if (undoFn) safely(() => undoFn(reason));
              const { rollback } = current;
              if (rollback) safely(() => rollback(vars, mutationId, reason));
            }
            resolve(outcome);
          },
        };

        try {
          const returned = opts.apply?.(vars, mutationId);
          if (typeof returned === 'function') undo = returned;
        } catch (error) {
          done = true;
          tracked.cancel();
          resolve({ status: 'error', error, mutationId });
          return;
        }

        running.current.add(entry);
        if (mounted.current) setPending(running.current.size);
        // Not mounted: before the mount effect ran, that effect counts it
        // (and unmount cancels it); after unmount, nobody would cancel it,
        // so the tracker times it out.

        void tracked.result.then((outcome) => entry.finish({ ...outcome, mutationId }));

        let sent: Promise<unknown>;
        try {
          sent = Promise.resolve(
            opts.mutate(vars, { mutationId, init: (init) => withMutationId(init, mutationId) }),
          );
        } catch (error) {
          sent = Promise.reject(error);
        }
        sent.then(
          () => {},
          (error: unknown) => {
            // Echo already seen: the write happened, whatever the answer says.
            // Timed out meanwhile: its rollback is on its way, with that reason.
            if (done || tracked.status() !== 'pending') return;
            tracked.cancel();
            entry.finish({ status: 'error', error, mutationId });
          },
        );
      });
    },
    [client],
  );

  return useMemo(() => Object.assign((vars: TVars) => mutate(vars), { mutate, pending }), [mutate, pending]);
}
