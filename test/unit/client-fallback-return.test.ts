import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { MemoryStorage } from '../../src/testing/memory-storage';
import type { Transport } from '../../src/transports/types';

// A client that fell back (a WebSocket held by a proxy, or by a deploy) stayed
// on the fallback for the page's life. The page's `online` event (the
// network changed, the proxy may be gone) now makes its next connect start
// from the configured order, without dropping the live connection; so does
// an hour on the fallback.

// Timers go through the globals at call time so vi.useFakeTimers() drives them.
const fakeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const clients: RealtimeClient[] = [];

/**
 * A client over a `websocket` that a proxy holds while `proxy.holding` (it
 * connects and nothing comes) and otherwise reaches the memory backend, then
 * the memory backend itself (`memory`): the fallback.
 */
function setup() {
  const backend = createMemoryBackend({ heartbeatMs: 1000 });
  const win = new EventTarget();
  /** `attempts`: the connects of the `websocket`. */
  const proxy = { holding: true, attempts: 0 };
  const wall = { now: 1_700_000_000_000 };
  const websocket: Transport = {
    name: 'websocket',
    connect: (ctx) => {
      proxy.attempts++;
      return proxy.holding
        ? Promise.resolve({ update: async () => {}, close: () => {} })
        : backend.transport.connect(ctx);
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [websocket, backend.transport],
    connectTimeoutMs: 1000,
    backoff: { baseMs: 100, capMs: 1000 },
    devtools: false,
    // One tab: it connects at once.
    leader: { strategy: 'none' },
    platform: {
      clock: fakeClock,
      wallClock: () => wall.now,
      random: () => 0.5,
      window: win,
      navigator: { onLine: true },
      storage: new MemoryStorage(),
    },
  });
  clients.push(rt);
  return { rt, backend, win, proxy, wall };
}

/** Subscribes, then lets WebSocket time out twice and the memory backend welcome. */
async function fallBack(h: ReturnType<typeof setup>): Promise<void> {
  h.rt.subscribe('tasks', () => {});
  await vi.advanceTimersByTimeAsync(5000);
  expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'memory' });
  expect(h.backend.connectCount).toBe(1);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('a client that fell back', () => {
  it('keeps its live connection on `online`, and its next connect tries WebSocket first', async () => {
    const h = setup();
    await fallBack(h);
    h.proxy.holding = false;
    h.win.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.backend.connectCount).toBe(1);
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'memory' });
    // A gateway drains the connection (a deploy): the reconnect goes to WebSocket.
    h.backend.drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'websocket' });
  });

  it('without `online`, tries WebSocket first at its first reconnect an hour after the fallback', async () => {
    const h = setup();
    await fallBack(h);
    h.proxy.holding = false;
    h.wall.now += 3_600_000 - 1;
    h.backend.drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'memory' });
    h.wall.now += 1;
    h.backend.drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'websocket' });
  });

  it('behind a proxy still there, `online` costs one WebSocket timeout, then the fallback again', async () => {
    const h = setup();
    await fallBack(h);
    expect(h.proxy.attempts).toBe(2);
    h.win.dispatchEvent(new Event('online'));
    h.backend.drop();
    // One timeout (1 s), the backoff, and the memory backend's welcome.
    await vi.advanceTimersByTimeAsync(1500);
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'memory' });
    expect(h.proxy.attempts).toBe(3);
    expect(h.backend.connectCount).toBe(2);
  });

  it('a flapping network (`online` every 0.5 s, under the 1 s timeout) reconnects on the fallback', async () => {
    const h = setup();
    await fallBack(h);
    h.backend.drop();
    for (let online = 1; online <= 6; online++) {
      h.win.dispatchEvent(new Event('online'));
      await vi.advanceTimersByTimeAsync(500);
    }
    // The first `online` tried WebSocket (cut short by the second); the
    // second reconnected on the fallback, and kept it (the others found
    // the page connected).
    expect(h.rt.getState()).toMatchObject({ status: 'connected', transport: 'memory' });
    expect(h.proxy.attempts).toBe(2 + 1);
  });
});
