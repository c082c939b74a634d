import { expect, it, onTestFinished } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// An in-place update (`POST /update-services`) answered 401. The loop only
// reconnected, with the token it had cached (no `expiresAt`: cached until a
// 401 invalidates it), so the server refused the same token once more before
// the loop's refresh-and-retry. A 401 on the update means what a 401 on the
// connection means: a new token, and a retry at once.

it('an update refused as unauthorized reconnects at once with a fresh token', async () => {
  const clock = new FakeClock();
  const tokens = ['t1', 't2', 't3'];
  let asked = 0;
  const getToken = () => tokens[asked++]!;
  const attempts: TransportContext[] = [];
  const chain = {
    currentName: 'sse',
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      // `t1` expired once the first connection was welcomed: the server refuses it from then on.
      if (ctx.token === 't1' && attempts.length > 1)
        throw new RealtimeError('unauthorized', 'server answered HTTP 401', { status: 401 });
      queueMicrotask(() => ctx.onFrame(welcomeFrame(`c${attempts.length}`)));
      return {
        update: async () => {
          if (ctx.token === 't1')
            throw new RealtimeError('unauthorized', 'server answered HTTP 401', { status: 401 });
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
  const loop = scriptedLoop(clock, chain, sink, { getToken });
  onTestFinished(() => loop.stop());
  loop.start();
  await flushPromises();
  expect(loop.isConnected).toBe(true);

  loop.update();
  await flushPromises();
  // No timer advanced: the retry went at once, and with the new token.
  expect(attempts.map((a) => a.token)).toEqual(['t1', 't2']);
  expect(asked).toBe(2);
  expect(loop.isConnected).toBe(true);
  expect(errors).toEqual([{ code: 'unauthorized', retry: 0 }]);
});
