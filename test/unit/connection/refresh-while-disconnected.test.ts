import { describe, expect, it, onTestFinished } from 'vitest';
import { CircuitBreaker } from '../../../src/connection/circuit-breaker';
import type { ConnectionLoopDeps } from '../../../src/connection/connection-loop';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// The token refresh a welcome scheduled was cancelled only by `stop()`. A
// connection that dropped and could not come back (the circuit open, the
// browser offline, the page in the back/forward cache) kept it: `getToken`
// was called once per token lifetime, each refresh arming the next, with no
// connection to use the token on (an app's auth endpoint saw calls from tabs
// offline for hours). The refresh must run only while a welcomed connection
// lives; the next connect fetches a fresh token itself when the cached one
// went stale.

const TOKEN_LIFETIME_MS = 60_000;
const TEN_MINUTES = 600_000;

function setup(overrides: (clock: FakeClock) => Partial<ConnectionLoopDeps> = () => ({})) {
  const clock = new FakeClock();
  const attempts: TransportContext[] = [];
  const pushed: string[] = [];
  const statuses: string[] = [];
  let serverUp = true;
  let live: TransportContext | undefined;
  let calls = 0;
  const chain = {
    currentName: 'ws',
    connect: async (ctx: TransportContext): Promise<TransportConnection> => {
      attempts.push(ctx);
      if (!serverUp) throw new Error('connection refused');
      live = ctx;
      queueMicrotask(() => ctx.onFrame(welcomeFrame(`c${attempts.length}`)));
      return { update: async () => {}, close: () => {}, setToken: (token) => pushed.push(token) };
    },
  };
  const loop = scriptedLoop(clock, chain, quietSink({ status: (s) => statuses.push(s) }), {
    getToken: () => ({ token: `t${++calls}`, expiresAt: clock.wall() + TOKEN_LIFETIME_MS }),
    ...overrides(clock),
  });
  onTestFinished(() => loop.stop());
  return {
    loop,
    pushed,
    statuses,
    calls: () => calls,
    tokensSent: () => attempts.map((ctx) => ctx.token),
    /** Moves fake time in 1 s steps, letting the loop's promises settle between them. */
    async run(ms: number) {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(Math.min(1000, ms - t));
        await flushPromises();
      }
    },
    setServerUp(up: boolean) {
      serverUp = up;
    },
    /** The server ends the live connection (an abnormal WebSocket close). */
    drop() {
      live!.onClose({ status: 1006 });
    },
  };
}

describe('the token refresh while no connection is welcomed', () => {
  it('stops while the circuit is open; the probe connects with a fresh token, and the refresh resumes on it', async () => {
    // One refused attempt opens the circuit for 10 minutes: the only attempts
    // are the one right after the drop and the probe.
    const t = setup((clock) => ({
      breaker: new CircuitBreaker({
        failureThreshold: 1,
        cooldownMs: TEN_MINUTES,
        maxCooldownMs: TEN_MINUTES,
        clock,
      }),
    }));
    t.loop.start();
    await flushPromises();
    expect(t.statuses.at(-1)).toBe('connected');
    expect(t.calls()).toBe(1);

    await t.run(1000);
    t.setServerUp(false);
    t.drop();
    // The retry after the backoff (100 ms here) connects with the cached
    // token, still fresh: no getToken call; its refusal opens the circuit.
    await t.run(TEN_MINUTES - 2000);
    expect(t.tokensSent()).toEqual(['t1', 't1']);
    // Ten token lifetimes went by with no connection: no refresh.
    expect(t.calls()).toBe(1);

    // The probe comes 10 minutes after the refusal, with the cached token long stale.
    t.setServerUp(true);
    await t.run(3000);
    expect(t.tokensSent()).toEqual(['t1', 't1', 't2']);
    expect(t.calls()).toBe(2);
    expect(t.statuses.at(-1)).toBe('connected');

    // The welcomed connection gets its refreshes again (skew 500 ms in the fixture).
    await t.run(TOKEN_LIFETIME_MS);
    expect(t.calls()).toBe(3);
    expect(t.pushed).toEqual(['t3']);
  });

  it('stops while offline; the connect when the network is back fetches a fresh token', async () => {
    let online = true;
    const t = setup(() => ({ isOnline: () => online }));
    t.loop.start();
    await flushPromises();
    expect(t.calls()).toBe(1);

    await t.run(1000);
    online = false;
    t.drop();
    await t.run(TEN_MINUTES);
    // Offline: the loop makes no attempt, and calls getToken for none.
    expect(t.tokensSent()).toEqual(['t1']);
    expect(t.calls()).toBe(1);

    online = true;
    t.loop.online();
    await flushPromises();
    expect(t.tokensSent()).toEqual(['t1', 't2']);
    expect(t.calls()).toBe(2);
    expect(t.statuses.at(-1)).toBe('connected');
  });

  it('stops while the page is in the back/forward cache; resume connects with a fresh token', async () => {
    const t = setup();
    t.loop.start();
    await flushPromises();
    await t.run(1000);
    t.loop.suspend();
    await t.run(TEN_MINUTES);
    expect(t.calls()).toBe(1);

    t.loop.resume();
    await flushPromises();
    expect(t.tokensSent()).toEqual(['t1', 't2']);
    expect(t.calls()).toBe(2);
    expect(t.statuses.at(-1)).toBe('connected');
  });
});
