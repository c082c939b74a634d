import { describe, expect, it, onTestFinished } from 'vitest';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// A server that welcomes a connection and then refuses its token
// (`unauthorized` right after the welcome: a session revoked behind a token
// that still verifies, a stricter check after the handshake). The loop
// cleared its "already refreshed once" mark at every welcome, so each 401
// was "the first" and was answered by a new getToken call and an immediate
// reconnect, with no backoff and no breaker (welcomed connections count as
// successes): a hot loop, hundreds of connects a second against the real
// client. docs/protocol.md: "refresh the token once, reconnect at once; a
// second 401 in a row is a failure".

function welcomeThen401() {
  const clock = new FakeClock();
  const attempts: TransportContext[] = [];
  const statuses: string[] = [];
  const chain = {
    currentName: 'ws',
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      queueMicrotask(() => {
        ctx.onFrame(welcomeFrame(`c${attempts.length}`));
        ctx.onFrame({ type: 'error', code: 'unauthorized', message: 'session revoked' });
      });
      return { update: async () => {}, close: () => {} };
    },
  };
  const sink = quietSink({ status: (s) => statuses.push(s) });
  let tokens = 0;
  const loop = scriptedLoop(clock, chain, sink, { getToken: () => `t${++tokens}` });
  return { clock, attempts, loop, tokens: () => tokens };
}

describe('unauthorized right after every welcome', () => {
  it('refreshes and reconnects at once only for the first 401; the next one waits for the backoff', async () => {
    const { clock, attempts, loop, tokens } = welcomeThen401();
    loop.start();
    onTestFinished(() => loop.stop());
    // No time passes: only attempts that start without any wait.
    for (let i = 0; i < 20; i++) await flushPromises();
    // The first connection, and the immediate retry after its 401. Not more.
    expect(attempts).toHaveLength(2);
    expect(tokens()).toBe(2);
    // The backoff (100–200 ms in the fixture) then lets the next one through.
    clock.advance(200);
    for (let i = 0; i < 5; i++) await flushPromises();
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    loop.stop();
  });

  it('over a second, connects a handful of times, not hundreds', async () => {
    const { clock, attempts, loop } = welcomeThen401();
    loop.start();
    onTestFinished(() => loop.stop());
    for (let ms = 0; ms < 1000; ms += 10) {
      await flushPromises();
      clock.advance(10);
    }
    expect(attempts.length).toBeLessThanOrEqual(20);
    loop.stop();
  });
});
