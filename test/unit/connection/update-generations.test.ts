import { afterEach, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Transport, TransportContext } from '../../../src/transports/types';

// An in-place update still pending on a connection that
// has since dropped kept the loop's "one update at a time" slot. An update
// asked for on the next connection was parked behind it, and when the old
// one settled it was dropped for belonging to another generation: the new
// connection never got the service the app had just subscribed to.

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

it('sends an update on the new connection while one of a dropped connection is still pending', async () => {
  const contexts: TransportContext[] = [];
  const updates: Array<{ connection: number; services: string[] }> = [];
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
      return {
        // The first connection's update never settles (its transport does not
        // end pending updates on close, which the Transport contract allows).
        update: (services) => {
          updates.push({ connection, services: [...services] });
          return connection === 1 ? new Promise<void>(() => {}) : Promise.resolve();
        },
        close() {},
      };
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [transport],
    backoff: { baseMs: 5, capMs: 10 },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
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
  const contexts: TransportContext[] = [];
  let answer: (cursor: Record<string, number>) => void = () => {};
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
      return {
        update: () =>
          new Promise((resolve) => {
            answer = (cursor) => resolve({ cursor });
          }),
        close() {},
      };
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [transport],
    // A long backoff: the answer comes while the loop waits for its next attempt.
    backoff: { baseMs: 60_000, capMs: 60_000 },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
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
