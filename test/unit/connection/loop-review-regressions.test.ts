import { describe, expect, it } from 'vitest';
import { ExponentialBackoff } from '../../../src/connection/backoff';
import { CircuitBreaker } from '../../../src/connection/circuit-breaker';
import type { ConnectionLoop, ConnectionLoopSink } from '../../../src/connection/connection-loop';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from '../connection/fake-clock';
import { scriptedLoop } from './loop-fixture';

// Found by a differential review of the size-driven rewrite (old loop of
// 4aa279c against this one); each failed before its fix.

interface Attempt {
  readonly ctx: TransportContext;
  readonly resolve: (connection: TransportConnection) => void;
  readonly reject: (error: unknown) => void;
  closed: boolean;
}

function setup(opts: {
  getToken?: () => Promise<string>;
  onStatus?: (loop: ConnectionLoop, status: string) => void;
}) {
  const clock = new FakeClock();
  const attempts: Attempt[] = [];
  const events: string[] = [];
  const chain = {
    currentName: 'ws',
    connect: (ctx: TransportContext) =>
      new Promise<TransportConnection>((resolve, reject) => {
        const attempt: Attempt = { ctx, resolve, reject, closed: false };
        attempts.push(attempt);
      }),
  };
  const sink: ConnectionLoopSink = {
    status: (status) => {
      events.push(status);
      opts.onStatus?.(loop, status);
    },
    welcome: (frame) => events.push(`welcome ${frame.connectionId}`),
    reopened: (connectionId) => events.push(`reopened ${connectionId}`),
    frame: () => {},
    invalidFrame: () => {},
    disconnected: (error) => events.push(`disconnected ${error.code}`),
    forbidden: () => events.push('forbidden'),
    updated: () => {},
  };
  const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 500, maxCooldownMs: 2000, clock });
  const loop = scriptedLoop(clock, chain, sink, {
    getToken: opts.getToken,
    breaker,
    backoff: new ExponentialBackoff({ baseMs: 100, floorMs: 100, capMs: 400, random: () => 0.5 }),
  });
  const connect = (attempt: Attempt) =>
    attempt.resolve({
      update: async () => {},
      close: () => {
        attempt.closed = true;
      },
    });
  const welcome = (attempt: Attempt, id: string) =>
    attempt.ctx.onFrame({
      type: 'welcome',
      connectionId: id,
      serverTime: 1,
      heartbeatMs: 60_000,
      cursor: {},
    });
  /** Attempts neither closed nor aborted: sockets the loop still holds. */
  const live = () => attempts.filter((a) => !a.closed && !a.ctx.signal.aborted).length;
  return { clock, attempts, events, loop, breaker, connect, welcome, live };
}

describe('connection loop: review of the rewrite', () => {
  // Both loops connect when a token fetch that was pending at pagehide
  // resolves in the cache (#attempt checks the generation and `running`
  // after the await, not `suspended`). The old loop at least tore that
  // attempt down at its welcome timeout; the new #failed ignores every
  // failure while suspended, so the socket stays open in the cache and
  // resume() opens a second one beside it.
  it('a token fetch pending at pagehide opens no socket in the cache, and one after pageshow', async () => {
    let release!: (token: string) => void;
    let first = true;
    const getToken = () => {
      if (!first) return Promise.resolve('t2');
      first = false;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const { clock, attempts, loop, connect, welcome, live } = setup({ getToken });
    loop.start();
    await flushPromises();
    loop.suspend(); // pagehide, persisted, while the token is on its way
    release('t1');
    await flushPromises();
    expect(attempts).toHaveLength(0); // no connect in the cache
    clock.advance(1300);
    await flushPromises();
    loop.resume(); // pageshow
    await flushPromises();
    connect(attempts.at(-1)!);
    welcome(attempts.at(-1)!, 'c2');
    await flushPromises();
    expect(live()).toBe(1);
  });

  // A status listener that restarts the attempt while the breaker is open
  // (from the `#reportDown` of `#failed`): `#failed` still arms its retry, the
  // retry's #attempt registers a second breaker wait without dropping the
  // first (the old loop dropped it), and at half-open the stale wait
  // unsubscribes the current one: nothing ever connects again.
  it('a status listener that reconnects while the breaker is open does not strand the loop in half-open', async () => {
    let reconnected = false;
    const { clock, attempts, loop, breaker } = setup({
      onStatus: (loop) => {
        if (!reconnected && breaker.snapshot().state === 'open') {
          reconnected = true;
          loop.reconnectNow();
        }
      },
    });
    loop.start();
    await flushPromises();
    clock.advance(30_000); // attempt 1 times out, its retry times out: the breaker opens
    await flushPromises();
    clock.advance(1000);
    await flushPromises();
    clock.advance(60_000); // long past the cooldown
    await flushPromises();
    expect(breaker.snapshot().state).toBe('half-open');
    expect(attempts).toHaveLength(3); // the half-open probe started
  });
});
