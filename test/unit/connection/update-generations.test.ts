import { afterEach, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Transport, TransportContext, UpdateResult } from '../../../src/transports/types';

// An in-place update still pending on a connection that
// has since dropped kept the loop's "one update at a time" slot. An update
// asked for on the next connection was parked behind it, and when the old
// one settled it was dropped for belonging to another generation: the new
// connection never got the service the app had just subscribed to.

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

/**
 * A transport whose connections welcome at once (ids c1, c2, …) and answer
 * `update` with what `update(connection, services)` returns; the client on it.
 */
function clientOn(
  update: (connection: number, services: string[]) => Promise<UpdateResult | undefined>,
  backoffMs: number,
): { rt: RealtimeClient; contexts: TransportContext[] } {
  const contexts: TransportContext[] = [];
  const transport: Transport = {
    name: 'custom',
    async connect(ctx) {
      contexts.push(ctx);
      const connection = contexts.length;
      queueMicrotask(() =>
        ctx.onFrame({
          type: 'welcome',
          connectionId: `c${connection}`,
          serverTime: Date.now(),
          heartbeatMs: 60_000,
          cursor: {},
        }),
      );
      return { update: (services) => update(connection, [...services]), close() {} };
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [transport],
    backoff: { baseMs: backoffMs, capMs: backoffMs * 2 },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  return { rt, contexts };
}

it('sends an update on the new connection while one of a dropped connection is still pending', async () => {
  const updates: Array<{ connection: number; services: string[] }> = [];
  // The first connection's update never settles (its transport does not end
  // pending updates on close, which the Transport contract allows).
  const { rt, contexts } = clientOn((connection, services) => {
    updates.push({ connection, services });
    return connection === 1 ? new Promise(() => {}) : Promise.resolve(undefined);
  }, 5);
  rt.subscribe('tasks', () => {});
  await vi.waitFor(() => expect(rt.getState().connectionId).toBe('c1'));
  rt.subscribe('finance', () => {});
  await vi.waitFor(() => expect(updates).toHaveLength(1));
  // The first connection drops; the second opens with tasks and finance.
  contexts[0]!.onClose({ status: 1006 });
  await vi.waitFor(() => expect(rt.getState().connectionId).toBe('c2'));
  expect(contexts[1]!.services).toEqual(['finance', 'tasks']);

  rt.subscribe('billing', () => {});
  await vi.waitFor(() =>
    expect(updates.filter((u) => u.connection === 2).map((u) => u.services)).toEqual([
      ['billing', 'finance', 'tasks'],
    ]),
  );
});

it('ignores the answer of an update whose connection dropped before it came (before the next attempt)', async () => {
  let answer: (cursor: Record<string, number>) => void = () => {};
  // A long backoff: the answer comes while the loop waits for its next attempt.
  const { rt, contexts } = clientOn(
    () =>
      new Promise((resolve) => {
        answer = (cursor) => resolve({ cursor });
      }),
    60_000,
  );
  rt.subscribe('tasks', () => {});
  await vi.waitFor(() => expect(rt.getState().connectionId).toBe('c1'));
  rt.subscribe('finance', () => {});
  await vi.waitFor(() => expect(contexts).toHaveLength(1));
  contexts[0]!.onClose({ status: 1006 });
  await vi.waitFor(() => expect(rt.getState().status).toBe('reconnecting'));
  // The dead connection's answer: a start cursor for a stream that is gone.
  answer({ finance: 40 });
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(rt.getState().cursor.finance).toBeUndefined();
});
