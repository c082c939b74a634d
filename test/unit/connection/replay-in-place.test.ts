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
  return { loop, attempts, replays, clock };
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

  // A server that sends the same hole again instead of replaying it (or
  // answering with a `reset`, as PROTOCOL.md has it) must not have every
  // browser reconnect once per round trip: a second ask within 10 s waits
  // for the backoff (100–200 ms here), and the connection stays up meanwhile.
  it.each([
    ['websocket', false],
    ['long-poll', true],
  ])('asks again for a hole left open on %s at the backoff pace', async (name, withReplay) => {
    const { loop, attempts, replays, clock } = connectedLoop(name, withReplay);
    const asked = () => attempts.length - 1 + replays.length;
    loop.start();
    await flushPromises();
    loop.requestReplay();
    await flushPromises();
    expect(asked()).toBe(1);
    // The answer shows the same hole: asked again, but not at once.
    loop.requestReplay();
    loop.requestReplay();
    await flushPromises();
    expect(asked()).toBe(1);
    expect(loop.isConnected).toBe(true);
    clock.advance(200);
    await flushPromises();
    expect(asked()).toBe(2);
    // Forty more round trips of the same hole within the next 10 s: at most
    // one ask per backoff delay, not one per round trip.
    for (let i = 0; i < 40; i++) {
      loop.requestReplay();
      clock.advance(50);
      await flushPromises();
    }
    expect(asked()).toBeLessThanOrEqual(2 + 40 / 2);
    expect(asked()).toBeGreaterThan(2);
    // A hole found after a quiet 10 s is asked for at once again.
    clock.advance(10_500);
    await flushPromises();
    const before = asked();
    loop.requestReplay();
    await flushPromises();
    expect(asked()).toBe(before + 1);
  });

  // New needs (a tab back from the back/forward cache, which asks for the
  // events of its property that the narrowed filter left out) are no hole
  // asked for again: waiting, the next live batch would move the tabs past
  // what the replay brings.
  it('asks at once, and sends a waiting ask, once the subscription changed', async () => {
    const { loop, replays, clock } = connectedLoop('long-poll', true);
    loop.start();
    await flushPromises();
    loop.requestReplay();
    loop.requestReplay();
    expect(replays).toEqual([1]);
    loop.update();
    expect(replays).toEqual([1, 1]);
    await flushPromises();
    clock.advance(1_000);
    loop.update();
    await flushPromises();
    loop.requestReplay();
    expect(replays).toEqual([1, 1, 1]);
    // Nothing left waiting to ask a second time.
    clock.advance(30_000);
    await flushPromises();
    expect(replays).toEqual([1, 1, 1]);
  });

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
