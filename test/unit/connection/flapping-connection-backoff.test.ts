import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { Clock } from '../../../src/clock';
import type { Transport, TransportContext } from '../../../src/transports/types';

// A server that welcomes every connection and ends it moments later: one
// that sheds load after accepting (`overloaded` with no `retryAfterMs`),
// refuses the subscription only once it is live (`bad_request`), or whose
// welcome says `heartbeatMs: 15` meaning seconds (the watchdog then ends the
// connection 37.5 ms after each welcome). Each welcome reset the backoff,
// and a dropped live connection is no breaker failure, so every browser
// reconnected every 0.5-1 s for good: 77 connections a minute, with the
// circuit closed and the rollback guard content. The backoff now starts over
// only after a connection that stayed up (STABLE_CONNECTION_MS).

const clock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const clients: RealtimeClient[] = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

/**
 * A transport whose every connection is welcomed (with `heartbeatMs`), sent
 * a heartbeat every 15 s, and handed to `after` once `liveMs` passed.
 */
function server(liveMs: number, after: (ctx: TransportContext) => void, heartbeatMs = 15_000) {
  const connectedAt: number[] = [];
  const transport: Transport = {
    name: 'flappy',
    async connect(ctx) {
      connectedAt.push(Date.now());
      const id = connectedAt.length;
      queueMicrotask(() =>
        ctx.onFrame({
          type: 'welcome',
          connectionId: `c${id}`,
          serverTime: Date.now(),
          heartbeatMs,
          cursor: {},
        }),
      );
      const beats = setInterval(() => ctx.onFrame({ type: 'heartbeat', serverTime: Date.now() }), 15_000);
      const timer = setTimeout(() => {
        clearInterval(beats);
        after(ctx);
      }, liveMs);
      return {
        update: async () => {},
        close: () => {
          clearInterval(beats);
          clearTimeout(timer);
        },
      };
    },
  };
  return { transport, connectedAt };
}

function client(transport: Transport): RealtimeClient {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_1', userId: 'u_1' },
    transports: [transport],
    leader: { strategy: 'none' },
    devtools: false,
    // The default backoff: 0.5 s floor, 20 s cap.
    platform: { clock, random: () => 0.5, window: new EventTarget(), navigator: { onLine: true } },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  return rt;
}

describe('a connection that is welcomed and then ends at once, again and again', () => {
  it('backs off further each time when the server sheds it (overloaded, no retryAfterMs)', async () => {
    const { transport, connectedAt } = server(10, (ctx) =>
      ctx.onFrame({ type: 'error', code: 'overloaded', message: 'shedding' }),
    );
    client(transport);
    await vi.advanceTimersByTimeAsync(60_000);
    // Was 77: a reconnect every 0.76 s.
    expect(connectedAt.length).toBeLessThanOrEqual(12);
    const gaps = connectedAt.slice(1).map((at, i) => at - connectedAt[i]!);
    expect(gaps[3]!).toBeGreaterThan(4_000);
  });

  it('backs off further each time when the welcome says heartbeatMs 15 and means seconds', async () => {
    const { transport, connectedAt } = server(3_600_000, () => {}, 15);
    const rt = client(transport);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rt.getState().lastError).toMatch(/^heartbeat_timeout/);
    // Was 77.
    expect(connectedAt.length).toBeLessThanOrEqual(12);
  });

  it('still reconnects within the first backoff window after a connection that lived', async () => {
    const { transport, connectedAt } = server(60_000, (ctx) => ctx.onClose({}));
    client(transport);
    // Three long-lived connections, each dropped after a minute.
    await vi.advanceTimersByTimeAsync(3 * 60_000 + 3_000);
    expect(connectedAt.length).toBe(4);
    const gaps = connectedAt.slice(1).map((at, i) => at - connectedAt[i]!);
    // 60 s of life plus the 0.5-1 s window of attempt 0 (0.75 s with random 0.5).
    expect(gaps).toEqual([60_750, 60_750, 60_750]);
  });
});
