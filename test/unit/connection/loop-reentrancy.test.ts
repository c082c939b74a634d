import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionLoop, ConnectionLoopSink } from '../../../src/connection/connection-loop';
import { RealtimeError } from '../../../src/errors';
import { createRealtime, type RealtimeClient } from '../../../src/index';
import type { Transport, TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { scriptedLoop } from './loop-fixture';

// The sink's `disconnected` runs the app's `disconnected` handlers
// synchronously, and those may stop the loop (`close()`) or start the next
// attempt themselves. The failure being handled must not then arm a retry
// of its own: that retry started a second attempt beside the app's, without
// tearing it down (the app's welcomed connection was left open and the
// retry's welcome ignored), and a client closed there showed `connecting`
// (or `reconnecting`) again. The old loop had the double attempt and the
// status too; the rewrite added the ignored welcome.

interface Attempt {
  readonly ctx: TransportContext;
  readonly resolve: (connection: TransportConnection) => void;
  readonly reject: (error: unknown) => void;
}

function setup(onDisconnected: (loop: ConnectionLoop) => void) {
  const clock = new FakeClock();
  const attempts: Attempt[] = [];
  const closed: number[] = [];
  const events: unknown[] = [];
  const chain = {
    currentName: 'fake',
    connect: (ctx: TransportContext) =>
      new Promise<TransportConnection>((resolve, reject) => attempts.push({ ctx, resolve, reject })),
  };
  const sink: ConnectionLoopSink = {
    status: (status) => events.push(status),
    welcome: (frame) => events.push(`welcome ${frame.connectionId}`),
    reopened: (connectionId) => events.push(`reopened ${connectionId}`),
    frame: () => {},
    invalidFrame: (reason) => events.push(`invalid ${reason}`),
    disconnected: (error) => {
      events.push(`disconnected ${error.code}`);
      onDisconnected(loop);
    },
    forbidden: () => events.push('forbidden'),
    updated: () => {},
  };
  const loop = scriptedLoop(clock, chain, sink);
  /** Connects attempt `n` and has the server welcome it. */
  const welcome = (n: number) => {
    const attempt = attempts[n]!;
    attempt.resolve({ update: async () => {}, close: () => closed.push(n) });
    attempt.ctx.onFrame({
      type: 'welcome',
      connectionId: `c${n}`,
      serverTime: 1,
      heartbeatMs: 60_000,
      cursor: {},
    });
  };
  return { clock, attempts, closed, events, loop, welcome };
}

describe('ConnectionLoop: a disconnected listener that acts on the loop', () => {
  it('reconnecting itself: its attempt is the only one, and its connection stays up', async () => {
    let reconnected = false;
    const { clock, attempts, closed, events, loop, welcome } = setup((loop) => {
      if (reconnected) return;
      reconnected = true;
      loop.reconnectNow();
    });
    loop.start();
    await flushPromises();
    attempts[0]!.reject(new RealtimeError('transport_unavailable', 'down'));
    await flushPromises();
    // The listener's attempt.
    expect(attempts).toHaveLength(2);
    welcome(1);
    await flushPromises();
    expect(loop.isConnected).toBe(true);
    // Well past any backoff of the first failure.
    clock.advance(5000);
    await flushPromises();
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.ctx.signal.aborted).toBe(false);
    expect(closed).toEqual([]);
    expect(loop.isConnected).toBe(true);
    expect(events.filter((event) => String(event).startsWith('disconnected'))).toEqual([
      'disconnected transport_unavailable',
    ]);
    expect(events.at(-1)).toBe('connected');
    loop.stop();
  });

  it('stopping the loop: no status and no retry timer after the stop', async () => {
    const { clock, attempts, events, loop } = setup((loop) => loop.stop());
    loop.start();
    await flushPromises();
    attempts[0]!.reject(new RealtimeError('transport_unavailable', 'down'));
    await flushPromises();
    expect(loop.isRunning).toBe(false);
    expect(events.at(-1)).toBe('disconnected transport_unavailable');
    expect(clock.pending).toBe(0);
  });
});

describe('client: close() from a disconnected handler', () => {
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const rt of clients.splice(0)) await rt.close();
  });

  it('stays closed', async () => {
    const transport: Transport = {
      name: 'refusing',
      connect: () => Promise.reject(new RealtimeError('transport_unavailable', 'down')),
    };
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      transports: [transport],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
    });
    clients.push(rt);
    rt.on('disconnected', () => void rt.close());
    rt.subscribe('tasks', () => {});
    await vi.waitFor(() => expect(rt.getState().status).toBe('closed'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rt.getState().status).toBe('closed');
  });
});
