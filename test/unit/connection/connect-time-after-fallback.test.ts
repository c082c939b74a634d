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
