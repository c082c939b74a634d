import { expect, it, onTestFinished } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// An in-place update (`POST /update-services`) answered 503 with
// `Retry-After: 30`. The loop gave up the connection and reconnected at
// once, dropping the server's wait: the new attempt hit the overloaded
// server straight away. docs/architecture.md: "never a wait the server asked
// for (`retryAfterMs` of `overloaded`): no attempt starts before it ends,
// whatever starts it"; PROTOCOL.md: `overloaded` = back off at least
// `retryAfterMs`.

it('an update refused as overloaded holds the reconnect to the server wait', async () => {
  const clock = new FakeClock();
  const attempts: TransportContext[] = [];
  let refuseUpdates = true;
  const chain = {
    currentName: 'sse',
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      queueMicrotask(() => ctx.onFrame(welcomeFrame(`c${attempts.length}`)));
      return {
        update: async () => {
          if (refuseUpdates)
            throw new RealtimeError('overloaded', 'server answered HTTP 503', {
              status: 503,
              retryAfterMs: 30_000,
            });
          return {};
        },
        close: () => {},
      };
    },
  };
  const errors: Array<{ code: string; retry: number | undefined }> = [];
  const sink = quietSink({
    disconnected: (error, willRetryInMs) => errors.push({ code: error.code, retry: willRetryInMs }),
  });
  const loop = scriptedLoop(clock, chain, sink);
  onTestFinished(() => loop.stop());
  loop.start();
  await flushPromises();
  expect(loop.isConnected).toBe(true);

  loop.update();
  await flushPromises();
  clock.advance(29_000);
  await flushPromises();
  // No attempt inside the wait the server asked for.
  expect(attempts).toHaveLength(1);

  refuseUpdates = false;
  clock.advance(1_500);
  await flushPromises();
  expect(attempts).toHaveLength(2);
  expect(loop.isConnected).toBe(true);
  expect(errors).toEqual([{ code: 'overloaded', retry: 30_000 }]);
});
