import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { globalTimersClock as clock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { MemoryStorage } from '../../src/testing/memory-storage';

// Behind a proxy that passes the WebSocket upgrade and holds every frame,
// each client paid two connect timeouts before it fell back, and the next
// page load (or the next tab to lead) paid them again: what the chain
// learnt died with it. The client now keeps it in the platform's storage.

const clients: RealtimeClient[] = [];
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

/** A browser behind the proxy: WebSocket connects and never hears a frame; long-poll works. */
function browserBehindProxy() {
  const held = createMemoryBackend({ heartbeatMs: 60_000 });
  held.silence(true);
  const works = createMemoryBackend({ heartbeatMs: 60_000 });
  const storage = new MemoryStorage();
  /** A page load: a new client of this browser, connected. */
  const page = (scope = { orgId: 'org_test', userId: 'u_1' }) => {
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope,
      transports: [
        { ...held.transport, name: 'websocket' },
        { ...works.transport, name: 'long-poll' },
      ],
      connectTimeoutMs: 1000,
      devtools: false,
      leader: { strategy: 'none' },
      telemetry: { sampleRate: 0 },
      platform: {
        clock,
        wallClock: () => Date.now(),
        random: () => 0.5,
        storage,
        window: new EventTarget(),
        navigator: { onLine: true },
      },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    return rt;
  };
  return { held, works, storage, page };
}

/** Advances fake time until the client is connected; the milliseconds it took. */
async function timeToConnect(rt: RealtimeClient): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 200 && rt.getState().status !== 'connected'; i++) await vi.advanceTimersByTimeAsync(50);
  expect(rt.getState()).toMatchObject({ status: 'connected', transport: 'long-poll' });
  return Date.now() - start;
}

describe('a client behind a proxy that holds WebSocket frames', () => {
  it('starts with the transport an earlier client of the browser fell back to', async () => {
    const b = browserBehindProxy();
    const first = b.page();
    // Two connect timeouts of 1 s, and the backoff after each.
    expect(await timeToConnect(first)).toBeGreaterThanOrEqual(2000);
    expect(b.held.connectCount).toBe(2);
    await first.close();

    const second = b.page();
    expect(await timeToConnect(second)).toBeLessThan(100);
    expect(b.held.connectCount).toBe(2);
  });

  it('remembers it per app and scope: another user of the browser learns on its own', async () => {
    const b = browserBehindProxy();
    await timeToConnect(b.page());
    const other = b.page({ orgId: 'org_test', userId: 'u_2' });
    expect(await timeToConnect(other)).toBeGreaterThanOrEqual(2000);
    expect(b.held.connectCount).toBe(4);
    expect([...Array(b.storage.length).keys()].map((i) => b.storage.key(i))).toEqual([
      'tabwire:v1:tabwire:org_test:u_1:transport:websocket,long-poll',
      'tabwire:v1:tabwire:org_test:u_2:transport:websocket,long-poll',
    ]);
  });
});
