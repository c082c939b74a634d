import { afterEach, describe, expect, it, vi } from 'vitest';
import type { createRealtime, RealtimeClient } from '../../../src/client';
import type { Clock } from '../../../src/clock';
import { tokenKit } from '../../../src/connection/token-kit';
import * as providerModule from '../../../src/connection/token-provider';
import { TokenProvider } from '../../../src/connection/token-provider';
import { anonymousTokens, lazyTokens, type TokenSource } from '../../../src/connection/token-source';
import { isRealtimeError } from '../../../src/errors';
import type { RealtimeOptions } from '../../../src/options';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { deferred } from '../deferred';
import { FakeClock, flushPromises } from './fake-clock';

// The token provider's code is loaded with import() only by a client that
// has `auth.getToken` (an anonymous app never needs it): the loop gets
// `anonymousTokens` or a `lazyTokens` whose first `get()` downloads it.

const PROVIDER = '../../../src/connection/token-provider';

function providerOn(clock: FakeClock, getToken: () => Promise<string>): TokenProvider {
  return new TokenProvider({ getToken, refreshSkewMs: 500, clock, wallClock: clock.wall }, tokenKit);
}

describe('anonymousTokens', () => {
  it('has no token, never fetches and schedules nothing', async () => {
    expect(await anonymousTokens.get()).toBeUndefined();
    expect(anonymousTokens.isFetching).toBe(false);
    const onToken = vi.fn();
    const cancel = anonymousTokens.scheduleRefresh(onToken);
    expect(() => cancel()).not.toThrow();
    expect(() => anonymousTokens.invalidate()).not.toThrow();
    expect(onToken).not.toHaveBeenCalled();
  });
});

describe('lazyTokens', () => {
  it('loads the provider on the first get() only, once for concurrent calls, and then delegates', async () => {
    const clock = new FakeClock();
    const gate = deferred<TokenSource>();
    const load = vi.fn(() => gate.promise);
    const getToken = vi.fn(async () => 'token_1');
    const tokens = lazyTokens(load);
    expect(load).not.toHaveBeenCalled();

    const first = tokens.get();
    const second = tokens.get();
    // The download is part of the fetch: the loop's token timeout covers it.
    expect(tokens.isFetching).toBe(true);
    expect(load).toHaveBeenCalledTimes(1);

    const provider = providerOn(clock, getToken);
    gate.resolve(provider);
    await expect(first).resolves.toBe('token_1');
    await expect(second).resolves.toBe('token_1');
    // Both joined one fetch of the provider.
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(tokens.isFetching).toBe(false);

    // From now on straight to the provider: cached, then invalidated.
    await expect(tokens.get()).resolves.toBe('token_1');
    expect(getToken).toHaveBeenCalledTimes(1);
    tokens.invalidate();
    await tokens.get();
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('hands scheduleRefresh and abandon to the loaded provider', async () => {
    const clock = new FakeClock();
    let n = 0;
    const provider = new TokenProvider(
      {
        getToken: async () => ({ token: `t${++n}`, expiresAt: clock.wall() + 2000 }),
        refreshSkewMs: 500,
        clock,
        wallClock: clock.wall,
      },
      tokenKit,
    );
    const tokens = lazyTokens(async () => provider);
    await expect(tokens.get()).resolves.toBe('t1');
    const pushed: string[] = [];
    const cancel = tokens.scheduleRefresh((token) => pushed.push(token));
    clock.advance(1500);
    await flushPromises();
    expect(pushed).toEqual(['t2']);
    cancel();
    clock.advance(5000);
    await flushPromises();
    expect(pushed).toEqual(['t2']);

    const hang = vi.spyOn(provider, 'abandon');
    tokens.abandon();
    expect(hang).toHaveBeenCalledTimes(1);
  });

  it('rejects a failed download with load_failed and downloads again on the next get()', async () => {
    const clock = new FakeClock();
    let loads = 0;
    const tokens = lazyTokens(async () => {
      loads++;
      if (loads === 1) throw new Error('chunk gone');
      return providerOn(clock, async () => 'token_2');
    });
    const error = await tokens.get()?.catch((e: unknown) => e);
    expect(isRealtimeError(error) && error.code).toBe('load_failed');
    expect((error as Error).cause).toMatchObject({ message: 'chunk gone' });
    // Nothing to act on before the provider is here, and no throw either.
    tokens.invalidate();
    tokens.abandon();
    expect(typeof tokens.scheduleRefresh(() => {})).toBe('function');

    await expect(tokens.get()).resolves.toBe('token_2');
    expect(loads).toBe(2);
  });
});

describe('lazyTokens.preload', () => {
  it('starts the download before the first get(), which then joins it; a failed preload is retried by get()', async () => {
    const clock = new FakeClock();
    let loads = 0;
    const tokens = lazyTokens(async () => {
      loads++;
      if (loads === 1) throw new Error('offline');
      return providerOn(clock, async () => 'token_1');
    });
    // A failed preload reports nothing (get() will) and leaves no rejection unhandled.
    tokens.preload?.();
    await flushPromises();
    expect(loads).toBe(1);
    tokens.preload?.();
    await flushPromises();
    expect(loads).toBe(2);
    await expect(tokens.get()).resolves.toBe('token_1');
    expect(loads).toBe(2);
  });
});

describe('the client and the token provider code', () => {
  const clients: RealtimeClient[] = [];
  const clock: Clock = {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };

  afterEach(async () => {
    for (const rt of clients.splice(0)) await rt.close();
    vi.doUnmock(PROVIDER);
    vi.resetModules();
  });

  /** A client from a fresh module graph, so what it loads is counted from zero. */
  async function client(options: Partial<RealtimeOptions>) {
    const loads = { count: 0 };
    vi.resetModules();
    vi.doMock(PROVIDER, () => {
      loads.count++;
      return providerModule;
    });
    const { createRealtime: create } = (await import('../../../src/client')) as {
      createRealtime: typeof createRealtime;
    };
    const backend = createMemoryBackend({ heartbeatMs: 1000 });
    const rt = create({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope: { orgId: 'org_test', userId: 'u_1' },
      transports: [backend.transport],
      devtools: false,
      ...options,
      platform: { clock, random: () => 0.5, window: new EventTarget() as never },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    await vi.waitFor(() => expect(rt.getState().status).toBe('connected'));
    return { rt, backend, loads };
  }

  it('never loads it without auth.getToken', async () => {
    const { backend, loads } = await client({});
    expect(backend.connectCount).toBe(1);
    await flushPromises();
    expect(loads.count).toBe(0);
  });

  it('loads it once with auth.getToken, and connects', async () => {
    const getToken = vi.fn(async () => 'token_1');
    const { rt, loads } = await client({ auth: { getToken } });
    expect(loads.count).toBe(1);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(rt.getState().status).toBe('connected');
  });

  it('times out a getToken that hangs on the very first connect, while its code was still loading', async () => {
    let calls = 0;
    // The first call hangs for good; the next ones answer.
    const getToken = () => (++calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('token_2'));
    const { rt } = await client({
      auth: { getToken },
      connectTimeoutMs: 200,
      backoff: { baseMs: 10, capMs: 20 },
    });
    // The hanging fetch was abandoned at the timeout, and the next attempt asked again.
    expect(calls).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });
});
