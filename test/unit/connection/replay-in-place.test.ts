import { describe, expect, it, onTestFinished } from 'vitest';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// A replay request (a gap, or a tab's replay ask) must reach the server at
// once. A stream reconnects from the lowered cursor; a transport that can ask
// from it in place (long-poll) is told to, instead of the loop waiting for
// its next poll, which on a quiet stream came only after the poll's `wait`.

function connectedLoop(name: string, withReplay: boolean) {
  const clock = new FakeClock();
  const attempts: TransportContext[] = [];
  const replays: number[] = [];
  const chain = {
    currentName: name,
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      queueMicrotask(() => ctx.onFrame(welcomeFrame(`c${attempts.length}`)));
      const connection: TransportConnection = { update: async () => {}, close: () => {} };
      if (withReplay) connection.replay = () => replays.push(attempts.length);
      return connection;
    },
  };
  const loop = scriptedLoop(clock, chain, quietSink());
  onTestFinished(() => loop.stop());
  return { loop, attempts, replays };
}

describe('requestReplay', () => {
  it('asks a connection that replays in place, and keeps it', async () => {
    const { loop, attempts, replays } = connectedLoop('long-poll', true);
    loop.start();
    await flushPromises();
    loop.requestReplay();
    await flushPromises();
    expect(replays).toEqual([1]);
    expect(attempts).toHaveLength(1);
    expect(loop.isConnected).toBe(true);
  });

  it.each(['websocket', 'long-poll'])(
    'reconnects a %s connection that cannot replay in place',
    async (name) => {
      const { loop, attempts } = connectedLoop(name, false);
      loop.start();
      await flushPromises();
      loop.requestReplay();
      await flushPromises();
      expect(attempts).toHaveLength(2);
      expect(loop.isConnected).toBe(true);
    },
  );

  it('asks nothing before the welcome', async () => {
    const { loop, replays, attempts } = connectedLoop('long-poll', true);
    loop.requestReplay();
    loop.start();
    loop.requestReplay();
    await flushPromises();
    expect(replays).toEqual([]);
    expect(attempts).toHaveLength(1);
  });
});
