import { expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { TransportChain } from '../../../src/transports/fallback';
import type { Transport, TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// The client estimates the server's clock at each welcome as `serverTime +
// connectMs / 2`, so `connectMs` must be the round trip of the transport
// that answered. It was timed from the first transport tried: after a
// WebSocket a proxy held for seconds before it failed, every delivery
// latency of the session (the SLIs) carried half of those seconds.

it('times the connect from the transport that answered, not from the first tried', async () => {
  const clock = new FakeClock();
  const blocked: Transport = {
    name: 'websocket',
    connect: () =>
      new Promise<TransportConnection>((_, reject) =>
        clock.setTimeout(
          () => reject(new RealtimeError('transport_unavailable', 'blocked by a proxy')),
          5000,
        ),
      ),
  };
  const answering: Transport = {
    name: 'sse',
    connect: async (ctx: TransportContext) => {
      clock.setTimeout(() => ctx.onFrame(welcomeFrame('c1')), 40);
      return { update: async () => undefined, close: () => {} };
    },
  };
  const welcomes: Array<{ transport: string; connectMs: number }> = [];
  const loop = scriptedLoop(
    clock,
    new TransportChain([blocked, answering]) as never,
    quietSink({ welcome: (_frame, transport, connectMs) => welcomes.push({ transport, connectMs }) }),
    { connectTimeoutMs: 10_000 },
  );
  loop.start();
  await flushPromises();
  clock.advance(5000);
  await flushPromises();
  clock.advance(40);
  await flushPromises();
  expect(welcomes).toEqual([{ transport: 'sse', connectMs: 40 }]);
  loop.stop();
});

// The built-in transports load their code on the first connect. That
// download is no part of the round trip to the welcome: on a slow network
// half of it went into every latency the session measured (60 ms of
// loading for a 5 ms welcome on 127.0.0.1 read as 25 ms of latency).
it('times the connect from when the transport is ready, not from the start of its download', async () => {
  const clock = new FakeClock();
  const connects: number[] = [];
  const loading: Transport = {
    name: 'websocket',
    preload: () => new Promise<void>((resolve) => clock.setTimeout(resolve, 500)),
    connect: async (ctx: TransportContext) => {
      connects.push(clock.now());
      clock.setTimeout(() => ctx.onFrame(welcomeFrame('c1')), 40);
      return { update: async () => undefined, close: () => {} };
    },
  };
  const welcomes: Array<{ transport: string; connectMs: number }> = [];
  const loop = scriptedLoop(
    clock,
    new TransportChain([loading]) as never,
    quietSink({ welcome: (_frame, transport, connectMs) => welcomes.push({ transport, connectMs }) }),
    { connectTimeoutMs: 10_000 },
  );
  loop.start();
  await flushPromises();
  clock.advance(499);
  await flushPromises();
  expect(connects).toEqual([]);
  clock.advance(1);
  await flushPromises();
  clock.advance(40);
  await flushPromises();
  expect(welcomes).toEqual([{ transport: 'websocket', connectMs: 40 }]);
  loop.stop();
});

it('a transport whose preload rejects is not connected: the chain tries the next', async () => {
  const clock = new FakeClock();
  const tried: string[] = [];
  const unloadable: Transport = {
    name: 'websocket',
    preload: () => Promise.reject(new RealtimeError('transport_unavailable', 'chunk gone')),
    connect: async () => {
      tried.push('websocket');
      throw new Error('connect after a failed preload');
    },
  };
  const answering: Transport = {
    name: 'sse',
    connect: async (ctx: TransportContext) => {
      tried.push('sse');
      clock.setTimeout(() => ctx.onFrame(welcomeFrame('c1')), 10);
      return { update: async () => undefined, close: () => {} };
    },
  };
  const welcomes: string[] = [];
  const loop = scriptedLoop(
    clock,
    new TransportChain([unloadable, answering]) as never,
    quietSink({ welcome: (_frame, transport) => welcomes.push(transport) }),
    { connectTimeoutMs: 10_000 },
  );
  loop.start();
  await flushPromises();
  clock.advance(10);
  await flushPromises();
  expect(tried).toEqual(['sse']);
  expect(welcomes).toEqual(['sse']);
  loop.stop();
});

// An attempt given up while its transport still loads (a reconnect: the
// network came back) must not go on once the code is here: its `onTry`
// restarted the clock of the attempt that replaced it, so the live
// connection's welcome read seconds short, and it connected that transport
// with the aborted signal: a custom transport that opened anyway made the
// chain name it (`transport` in the state) for the live WebSocket.
it('an attempt abandoned during its transport load neither connects nor restarts the connect clock', async () => {
  const clock = new FakeClock();
  let sseConnects = 0;
  const slow: Transport = {
    name: 'sse',
    preload: () => new Promise<void>((resolve) => clock.setTimeout(resolve, 3000)),
    connect: async () => {
      sseConnects++;
      return { update: async () => undefined, close: () => {} };
    },
  };
  let wsConnects = 0;
  const ws: Transport = {
    name: 'websocket',
    connect: async (ctx: TransportContext) => {
      // The first connect fails at once; the second is welcomed 4 s after it opens.
      if (wsConnects++ === 0) throw new RealtimeError('transport_unavailable', 'no socket yet');
      clock.setTimeout(() => ctx.onFrame(welcomeFrame('c1')), 4000);
      return { update: async () => undefined, close: () => {} };
    },
  };
  const welcomes: Array<{ transport: string; connectMs: number }> = [];
  const errors: string[] = [];
  const loop = scriptedLoop(
    clock,
    new TransportChain([ws, slow]) as never,
    quietSink({
      welcome: (_frame, transport, connectMs) => welcomes.push({ transport, connectMs }),
      disconnected: (error) => errors.push(error.code),
    }),
    { connectTimeoutMs: 10_000 },
  );
  loop.start();
  await flushPromises();
  clock.advance(100);
  loop.reconnectNow();
  await flushPromises();
  clock.advance(2900);
  await flushPromises();
  clock.advance(1100);
  await flushPromises();
  expect(welcomes).toEqual([{ transport: 'websocket', connectMs: 4000 }]);
  expect(errors).toEqual([]);
  expect(sseConnects).toBe(0);
  loop.stop();
});
