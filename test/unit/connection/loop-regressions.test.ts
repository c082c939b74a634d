import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Transport, TransportConnection, TransportContext } from '../../../src/transports/types';

// Regressions from a review of the connection loop (each failed before its fix).

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

const welcome = (ctx: TransportContext, id: string) =>
  ctx.onFrame({ type: 'welcome', connectionId: id, serverTime: Date.now(), heartbeatMs: 60_000, cursor: {} });

function client(transport: Transport, extra = {}) {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [transport],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 }, // sampling is random (2 %): tests decide it
    ...extra,
  });
  clients.push(rt);
  return rt;
}

describe('connection loop regressions', () => {
  it('sends one in-place update at a time, and the last one carries the latest services', async () => {
    const sent: string[][] = [];
    const pending: Array<() => void> = [];
    const transport: Transport = {
      name: 'slow-update',
      async connect(ctx) {
        queueMicrotask(() => welcome(ctx, 'c1'));
        return {
          update: (services) => {
            sent.push([...services]);
            return new Promise<void>((resolve) => pending.push(resolve));
          },
          close() {},
        } satisfies TransportConnection;
      },
    };
    const rt = client(transport);
    rt.subscribe('tasks', () => {});
    await vi.waitFor(() => expect(rt.getState().status).toBe('connected'));
    rt.subscribe('finance', () => {});
    await Promise.resolve();
    await Promise.resolve();
    rt.subscribe('billing', () => {});
    await new Promise((r) => setTimeout(r, 10));
    // The second update waits for the first: they cannot overtake each other.
    expect(sent).toEqual([['finance', 'tasks']]);
    pending.shift()?.();
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent[1]).toEqual(['billing', 'finance', 'tasks']);
  });

  it('closes a connection that opens after its attempt was given up', async () => {
    vi.useFakeTimers();
    const closed: string[] = [];
    let n = 0;
    const transport: Transport = {
      name: 'late',
      connect(ctx) {
        const id = `c${++n}`;
        // The first ignores the abort and resolves after the welcome timeout,
        // before the retry (backoff ≥ 100 ms) has started.
        const delay = id === 'c1' ? 1050 : 0;
        return new Promise((resolve) =>
          setTimeout(() => {
            if (id !== 'c1') queueMicrotask(() => welcome(ctx, id));
            resolve({ update: async () => {}, close: () => closed.push(id) });
          }, delay),
        );
      },
    };
    const rt = client(transport, { connectTimeoutMs: 1000, backoff: { baseMs: 100, capMs: 200 } });
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1500);
    expect(rt.getState().status).toBe('connected');
    await vi.advanceTimersByTimeAsync(4000);
    expect(closed).toEqual(['c1']);
  });
});

describe('back/forward cache while connecting', () => {
  it('neither retries in the cache nor leaves a second attempt behind after pageshow', async () => {
    vi.useFakeTimers();
    const win = new EventTarget();
    const attempts: { id: string; signal: AbortSignal }[] = [];
    const transport: Transport = {
      name: 'hangs-first',
      connect(ctx) {
        const attempt = { id: `c${attempts.length + 1}`, signal: ctx.signal };
        attempts.push(attempt);
        return new Promise((resolve, reject) => {
          const connection = { update: async () => {}, close() {} };
          // The first connect hangs until it is aborted; later ones open at once.
          if (attempt.id === 'c1') ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          else {
            queueMicrotask(() => welcome(ctx, attempt.id));
            resolve(connection);
          }
        });
      },
    };
    const rt = client(transport, { platform: { window: win }, backoff: { baseMs: 100, capMs: 200 } });
    const disconnects: unknown[] = [];
    rt.on('disconnected', (info) => disconnects.push(info));
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts.map((a) => a.id)).toEqual(['c1']);

    win.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: true }));
    await vi.advanceTimersByTimeAsync(5_000);
    // Suspended: the aborted connect is no failure to retry.
    expect(attempts.map((a) => a.id)).toEqual(['c1']);
    expect(disconnects).toEqual([]);

    win.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(rt.getState().status).toBe('connected');
    // One attempt after the restore, and it is the live one.
    expect(attempts.map((a) => a.id)).toEqual(['c1', 'c2']);
    expect(attempts[1]?.signal.aborted).toBe(false);
  });
});
