import { expect, it, onTestFinished } from 'vitest';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

it('a hung update reconnects after connectTimeoutMs; its late answer touches nothing after', async () => {
  const clock = new FakeClock();
  const attempts: TransportContext[] = [];
  const answers: Array<(v: object) => void> = [];
  const chain = {
    currentName: 'sse',
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      queueMicrotask(() => ctx.onFrame(welcomeFrame(`c${attempts.length}`)));
      return {
        update: () => new Promise((resolve) => answers.push(resolve)),
        close: () => {},
      };
    },
  };
  const updated: unknown[] = [];
  const loop = scriptedLoop(clock, chain, quietSink({ updated: (c) => updated.push(c) }));
  onTestFinished(() => loop.stop());
  loop.start();
  await flushPromises();
  loop.update();
  loop.update(); // queued behind the first
  clock.advance(999);
  await flushPromises();
  expect(attempts).toHaveLength(1);
  clock.advance(1);
  await flushPromises();
  expect(attempts).toHaveLength(2);
  expect(loop.isConnected).toBe(true);
  // The new connection's update arms its own timeout; the old answer is ignored.
  loop.update();
  answers[0]!({ cursor: { a: 1 } });
  await flushPromises();
  expect(updated).toEqual([]);
  clock.advance(999);
  await flushPromises();
  answers[1]!({});
  await flushPromises();
  expect(updated).toEqual([undefined]);
  clock.advance(5_000);
  await flushPromises();
  expect(attempts).toHaveLength(2);
});
