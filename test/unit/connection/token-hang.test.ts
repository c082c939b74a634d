import { describe, expect, it } from 'vitest';
import { tokenKit } from '../../../src/connection/token-kit';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import { FakeClock, flushPromises } from './fake-clock';
import { quietSink, scriptedLoop, welcomeFrame } from './loop-fixture';

// `auth.getToken` whose promise never settles (a token endpoint that hangs:
// fetch has no timeout of its own). The attempt awaited it with no timer
// armed (the welcome timeout was armed only once the token was in), and
// every later attempt, whatever started it (online, a visible tab), joined
// the same single-flight fetch: the client sat in `connecting` for good,
// even though the app's next getToken call would have answered at once.
// docs/options.md: connectTimeoutMs is "how long an attempt may wait for
// `welcome`", and the loop counts the token fetch as part of the attempt.

describe('a getToken that never settles', () => {
  it('fails the attempt at connectTimeoutMs, and a later attempt asks getToken again and connects', async () => {
    const clock = new FakeClock();
    const statuses: string[] = [];
    const errors: string[] = [];
    const attempts: TransportContext[] = [];
    let calls = 0;
    const getToken = (): Promise<string> => {
      calls++;
      // The first call hangs for good; the next ones answer.
      return calls === 1 ? new Promise<string>(() => {}) : Promise.resolve(`t${calls}`);
    };
    const chain = {
      currentName: 'ws',
      connect: async (ctx: TransportContext): Promise<TransportConnection> => {
        attempts.push(ctx);
        queueMicrotask(() => ctx.onFrame(welcomeFrame('c1')));
        return { update: async () => {}, close: () => {} };
      },
    };
    const sink = quietSink({
      status: (s) => statuses.push(s),
      disconnected: (error) => errors.push(error.code),
    });
    const loop = scriptedLoop(clock, chain, sink, { getToken });
    loop.start();
    await flushPromises();
    expect(calls).toBe(1);

    // connectTimeoutMs is 1 s in the fixture; give it plenty.
    for (let i = 0; i < 20; i++) {
      clock.advance(1000);
      await flushPromises();
    }
    // Whatever else wakes the loop (the network back, a tab shown) too.
    loop.online();
    await flushPromises();
    clock.advance(1000);
    await flushPromises();

    expect(errors[0]).toBe('auth_failed');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.at(-1)!.token).toMatch(/^t\d+$/);
    expect(statuses.at(-1)).toBe('connected');
    loop.stop();
    expect(clock.pending).toBe(0);
  });
});

describe('TokenProvider.abandon', () => {
  it('lets the next get() call getToken again, and the abandoned late answer does not replace the newer token', async () => {
    const { TokenProvider } = await import('../../../src/connection/token-provider');
    const clock = new FakeClock();
    let resolveFirst!: (token: string) => void;
    let calls = 0;
    const tokens = new TokenProvider(
      {
        getToken: () => {
          calls++;
          if (calls === 1) return new Promise<string>((resolve) => (resolveFirst = resolve));
          return { token: 'new', expiresAt: clock.wall() + 3_600_000 };
        },
        refreshSkewMs: 500,
        clock,
        wallClock: clock.wall,
      },
      tokenKit,
    );
    const first = tokens.get();
    expect(tokens.isFetching).toBe(true);
    tokens.abandon();
    expect(tokens.isFetching).toBe(false);
    await expect(tokens.get()).resolves.toBe('new');
    resolveFirst('old');
    await expect(first).resolves.toBe('old');
    await flushPromises();
    // The cache still holds the token of the newer fetch.
    await expect(tokens.get()).resolves.toBe('new');
    expect(calls).toBe(2);
  });
});
