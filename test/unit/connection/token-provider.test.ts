import { afterEach, describe, expect, it, vi } from 'vitest';
import { tokenKit } from '../../../src/connection/token-kit';
import {
  DEFAULT_REFRESH_SKEW_MS,
  type GetToken,
  TokenProvider,
  type TokenResult,
} from '../../../src/connection/token-provider';
import { isRealtimeError, RealtimeError } from '../../../src/errors';
import { MAX_TIMER_DELAY_MS } from '../../../src/util/timers';
import { deferred } from '../deferred';
import { FakeClock, flushPromises } from './fake-clock';

/** A provider on `clock` (and its wall clock), as the client makes one. */
function providerOn(clock: FakeClock, getToken?: GetToken, refreshSkewMs = DEFAULT_REFRESH_SKEW_MS) {
  return new TokenProvider({ getToken, refreshSkewMs, clock, wallClock: clock.wall }, tokenKit);
}

function setup(getToken?: GetToken, refreshSkewMs = DEFAULT_REFRESH_SKEW_MS) {
  const clock = new FakeClock();
  return { clock, provider: providerOn(clock, getToken, refreshSkewMs) };
}

/** A getToken that hands out tok1, tok2, … each valid for `lifetimeMs` from the fake wall clock. */
function expiringTokens(clock: () => FakeClock, lifetimeMs: number) {
  let n = 0;
  return vi.fn<GetToken>(() => {
    n += 1;
    return { token: `tok${n}`, expiresAt: clock().wall() + lifetimeMs };
  });
}

async function rejection(promise: Promise<unknown>): Promise<RealtimeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RealtimeError);
    return error as RealtimeError;
  }
  throw new Error('expected a rejection');
}

describe('TokenProvider', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  describe('anonymous (no getToken)', () => {
    it('resolves undefined and never arms a timer', async () => {
      const { clock, provider } = setup();
      await expect(provider.get()).resolves.toBeUndefined();
      await expect(provider.refresh()).resolves.toBeUndefined();
      const onToken = vi.fn();
      provider.scheduleRefresh(onToken)();
      expect(clock.pending).toBe(0);
    });
  });

  describe('caching', () => {
    it('caches a plain string token for good', async () => {
      const getToken = vi.fn<GetToken>(() => 'plain');
      const { clock, provider } = setup(getToken);
      await expect(provider.get()).resolves.toBe('plain');
      clock.advance(365 * 24 * 3600 * 1000);
      await expect(provider.get()).resolves.toBe('plain');
      expect(getToken).toHaveBeenCalledTimes(1);
      // Without an expiry nothing is scheduled either.
      provider.scheduleRefresh(vi.fn());
      expect(clock.pending).toBe(0);
    });

    it('caches a token with expiresAt: null (as JSON APIs send "none") for good, as one without', async () => {
      const getToken = vi.fn<GetToken>(() => ({ token: 'json', expiresAt: null }));
      const { clock, provider } = setup(getToken);
      await expect(provider.get()).resolves.toBe('json');
      clock.advance(365 * 24 * 3600 * 1000);
      await expect(provider.get()).resolves.toBe('json');
      expect(getToken).toHaveBeenCalledTimes(1);
      provider.scheduleRefresh(vi.fn());
      expect(clock.pending).toBe(0);
    });

    it('accepts a synchronous or asynchronous getToken', async () => {
      const { provider } = setup(async () => ({ token: 'async' }));
      await expect(provider.get()).resolves.toBe('async');
    });

    it('serves the cache until refreshSkewMs before expiresAt, then fetches', async () => {
      let clock!: FakeClock;
      const getToken = expiringTokens(() => clock, 120_000);
      ({ clock } = setup());
      const provider = providerOn(clock, getToken);
      await expect(provider.get()).resolves.toBe('tok1');
      // expiresAt is 120 s away: fresh for 90 s.
      clock.advance(89_999);
      await expect(provider.get()).resolves.toBe('tok1');
      clock.advance(1);
      await expect(provider.get()).resolves.toBe('tok2');
      expect(getToken).toHaveBeenCalledTimes(2);
    });

    it.each([
      [5000, 120_000],
      [0, 60_000], // 0: refresh exactly at expiry
    ])(
      'honours refreshSkewMs %i: a token living %i ms is refreshed that long before it expires',
      async (refreshSkewMs, lifetimeMs) => {
        let clock!: FakeClock;
        const getToken = expiringTokens(() => clock, lifetimeMs);
        ({ clock } = setup());
        const provider = providerOn(clock, getToken, refreshSkewMs);
        await provider.get();
        clock.advance(lifetimeMs - refreshSkewMs - 1);
        await expect(provider.get()).resolves.toBe('tok1');
        clock.advance(1);
        await expect(provider.get()).resolves.toBe('tok2');
      },
    );

    it('refreshes a token shorter-lived than twice the skew at half its life', async () => {
      let clock!: FakeClock;
      const getToken = expiringTokens(() => clock, 20_000);
      ({ clock } = setup());
      const provider = providerOn(clock, getToken);
      await provider.get();
      await expect(provider.get()).resolves.toBe('tok1');
      clock.advance(9999);
      await expect(provider.get()).resolves.toBe('tok1');
      clock.advance(1);
      await expect(provider.get()).resolves.toBe('tok2');
    });

    it('uses a token that is already expired on arrival once, and fetches again next time', async () => {
      let n = 0;
      const getToken = vi.fn<GetToken>(() => ({ token: `old${++n}`, expiresAt: 1000 }));
      const { provider } = setup(getToken);
      await expect(provider.get()).resolves.toBe('old1');
      await expect(provider.get()).resolves.toBe('old2');
    });

    it('refresh() fetches even while the cache is fresh', async () => {
      let clock!: FakeClock;
      const getToken = expiringTokens(() => clock, 3_600_000);
      ({ clock } = setup());
      const provider = providerOn(clock, getToken);
      await provider.get();
      await expect(provider.refresh()).resolves.toBe('tok2');
      await expect(provider.get()).resolves.toBe('tok2');
    });

    it('invalidate() drops the cache so the next get() fetches', async () => {
      let n = 0;
      const getToken = vi.fn<GetToken>(() => `t${++n}`);
      const { provider } = setup(getToken);
      await provider.get();
      provider.invalidate();
      await expect(provider.get()).resolves.toBe('t2');
      await expect(provider.get()).resolves.toBe('t2');
      expect(getToken).toHaveBeenCalledTimes(2);
    });
  });

  describe('single flight', () => {
    it('shares one getToken call among 5 concurrent get() calls', async () => {
      const pending = deferred<TokenResult>();
      const getToken = vi.fn<GetToken>(() => pending.promise);
      const { provider } = setup(getToken);
      const calls = Array.from({ length: 5 }, () => provider.get());
      expect(getToken).toHaveBeenCalledTimes(1);
      pending.resolve('shared');
      await expect(Promise.all(calls)).resolves.toEqual(['shared', 'shared', 'shared', 'shared', 'shared']);
    });

    it('shares a refresh in flight with get(), even while the cache is fresh', async () => {
      const answers = [deferred<TokenResult>(), deferred<TokenResult>()];
      let calls = 0;
      const getToken = vi.fn<GetToken>(() => answers[calls++]!.promise);
      const { provider } = setup(getToken);
      const first = provider.get();
      answers[0]!.resolve('first');
      await first;
      const refreshing = provider.refresh();
      const getting = provider.get();
      const refreshingAgain = provider.refresh();
      expect(getToken).toHaveBeenCalledTimes(2);
      answers[1]!.resolve('second');
      await expect(Promise.all([refreshing, getting, refreshingAgain])).resolves.toEqual([
        'second',
        'second',
        'second',
      ]);
    });

    it('shares a get() in flight with refresh()', async () => {
      const pending = deferred<TokenResult>();
      const getToken = vi.fn<GetToken>(() => pending.promise);
      const { provider } = setup(getToken);
      const getting = provider.get();
      const refreshing = provider.refresh();
      pending.resolve('one');
      await expect(Promise.all([getting, refreshing])).resolves.toEqual(['one', 'one']);
      expect(getToken).toHaveBeenCalledTimes(1);
    });
  });

  describe('failures', () => {
    it('wraps a rejection in auth_failed with the cause', async () => {
      const cause = new Error('idp down');
      const { provider } = setup(() => Promise.reject(cause));
      const error = await rejection(provider.get());
      expect(isRealtimeError(error, 'auth_failed')).toBe(true);
      expect(error.cause).toBe(cause);
    });

    it('wraps a synchronous throw in auth_failed with the cause', async () => {
      const cause = new Error('sync');
      const { provider } = setup(() => {
        throw cause;
      });
      const error = await rejection(provider.refresh());
      expect(error.code).toBe('auth_failed');
      expect(error.cause).toBe(cause);
    });

    it.each([
      ['', 'auth.getToken returned no token (empty); expected a non-empty string or { token, expiresAt? }'],
      [null, 'auth.getToken returned no token (null); expected a non-empty string or { token, expiresAt? }'],
      [42, 'auth.getToken returned no token (number); expected a non-empty string or { token, expiresAt? }'],
      [
        undefined,
        'auth.getToken returned no token (undefined); expected a non-empty string or { token, expiresAt? }',
      ],
      [
        {},
        'auth.getToken returned no token (undefined); expected a non-empty string or { token, expiresAt? }',
      ],
      [
        { token: '' },
        'auth.getToken returned no token (empty); expected a non-empty string or { token, expiresAt? }',
      ],
      [
        { token: 5 },
        'auth.getToken returned no token (number); expected a non-empty string or { token, expiresAt? }',
      ],
      [
        { token: 'secret', expiresAt: Number.NaN },
        'auth.getToken returned expiresAt NaN; expected epoch milliseconds',
      ],
      [
        { token: 'secret', expiresAt: Number.POSITIVE_INFINITY },
        'auth.getToken returned expiresAt Infinity; expected epoch milliseconds',
      ],
      [
        { token: 'secret', expiresAt: '2030' },
        'auth.getToken returned expiresAt "2030"; expected epoch milliseconds',
      ],
    ])('rejects the malformed result %o with auth_failed', async (result, message) => {
      const { provider } = setup(() => result as TokenResult);
      const error = await rejection(provider.get());
      expect(error.code).toBe('auth_failed');
      expect(error.message).toBe(message);
      expect(error.message).not.toContain('secret');
    });

    it.each([
      ['sec\nret', 'a line break or NUL'],
      ['sec\r\nret', 'a line break or NUL'],
      ['\nsecret', 'a line break or NUL'],
      ['sec\0ret', 'a line break or NUL'],
      ['secret\0', 'a line break or NUL'],
      ['secret\n\0', 'a line break or NUL'],
      ['secret \nx', 'a line break or NUL'],
      ['sécret€', 'a character above U+00FF'],
      ['secret\u0100', 'a character above U+00FF'],
      ['secret😀', 'a character above U+00FF'],
      ['sec\nret€', 'a character above U+00FF'],
    ])('rejects the token %j, which fetch cannot send in a header, with auth_failed', async (token, what) => {
      const { provider } = setup(() => ({ token, expiresAt: 1 }));
      const error = await rejection(provider.get());
      expect(error.code).toBe('auth_failed');
      expect(error.message).toBe(
        `auth.getToken returned a token that is not a valid HTTP header value: it contains ${what}`,
      );
      expect(error.message).not.toContain('sec');
    });

    it('refuses exactly the tokens fetch refuses in "Authorization: Bearer <token>"', async () => {
      // Every code unit up to U+0101, and an astral character, alone and
      // around a body, against the Headers class of the fetch in use (Node's
      // undici: the Fetch standard's rule, as browsers apply it).
      const units = [...Array.from({ length: 0x102 }, (_, code) => String.fromCharCode(code)), '😀'];
      const tokens = units.flatMap((c) => [c, `a${c}b`, `ab${c}`, `ab ${c}`, `ab${c}\n`, `ab\r\n${c}`]);
      const fetchSends = (token: string): boolean => {
        try {
          new Headers({ Authorization: `Bearer ${token}` });
          return true;
        } catch {
          return false;
        }
      };
      let index = 0;
      const { provider } = setup(() => tokens[index]!);
      const mismatches: string[] = [];
      for (; index < tokens.length; index++) {
        const accepted = await provider.refresh().then(
          () => true,
          () => false,
        );
        if (accepted !== fetchSends(tokens[index]!)) mismatches.push(JSON.stringify(tokens[index]));
      }
      expect(mismatches).toEqual([]);
    });

    it('takes tokens fetch sends though RFC 6750 would not: Latin-1, spaces, tabs, trailing line breaks', async () => {
      for (const token of ['café', 'a b', 'a\tb', ' lead', 'trail\n', 'trail \r\n\t', '{"json":1}']) {
        const { provider } = setup(() => token);
        await expect(provider.get()).resolves.toBe(token);
      }
    });

    it('gives every concurrent caller the failure, then recovers on the next call', async () => {
      const getToken = vi
        .fn<GetToken>()
        .mockRejectedValueOnce(new Error('blip'))
        .mockResolvedValueOnce('recovered');
      const { provider } = setup(getToken);
      const a = provider.get();
      const b = provider.get();
      expect((await rejection(a)).code).toBe('auth_failed');
      expect((await rejection(b)).code).toBe('auth_failed');
      await expect(provider.get()).resolves.toBe('recovered');
      expect(getToken).toHaveBeenCalledTimes(2);
    });

    it('keeps the cached token when a forced refresh fails', async () => {
      const getToken = vi
        .fn<GetToken>()
        .mockResolvedValueOnce('good')
        .mockRejectedValueOnce(new Error('blip'))
        .mockResolvedValueOnce('next');
      const { provider } = setup(getToken);
      await provider.get();
      await rejection(provider.refresh());
      await expect(provider.get()).resolves.toBe('good');
      await expect(provider.refresh()).resolves.toBe('next');
    });
  });

  describe('scheduleRefresh', () => {
    function scheduled(lifetimeMs = 120_000) {
      let clock!: FakeClock;
      const getToken = expiringTokens(() => clock, lifetimeMs);
      ({ clock } = setup());
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn<(token: string) => void>();
      return { clock, provider, getToken, onToken };
    }

    it('refreshes refreshSkewMs before expiry, hands the token over and re-arms', async () => {
      const { clock, provider, getToken, onToken } = scheduled();
      await provider.get();
      provider.scheduleRefresh(onToken);
      expect(clock.delays.at(-1)).toBe(90_000);
      clock.advance(89_999);
      expect(getToken).toHaveBeenCalledTimes(1);
      clock.advance(1);
      expect(getToken).toHaveBeenCalledTimes(2);
      await flushPromises();
      expect(onToken).toHaveBeenCalledExactlyOnceWith('tok2');
      await expect(provider.get()).resolves.toBe('tok2');
      // The next one, 90 s after the second token arrived.
      expect(clock.pending).toBe(1);
      clock.advance(90_000);
      await flushPromises();
      expect(onToken).toHaveBeenLastCalledWith('tok3');
    });

    it('arms once the first token arrives when nothing is cached yet', async () => {
      const { clock, provider, onToken } = scheduled();
      provider.scheduleRefresh(onToken);
      expect(clock.pending).toBe(0);
      await provider.get();
      expect(clock.pending).toBe(1);
      expect(clock.delays.at(-1)).toBe(90_000);
    });

    it('refreshes at once when the cached token is already due', async () => {
      const { clock, provider, getToken, onToken } = scheduled();
      await provider.get();
      clock.advance(100_000);
      provider.scheduleRefresh(onToken);
      expect(clock.delays.at(-1)).toBe(0);
      clock.advance(0);
      await flushPromises();
      expect(getToken).toHaveBeenCalledTimes(2);
      expect(onToken).toHaveBeenCalledWith('tok2');
    });

    it('re-arms after a fetch made by get() without calling onToken', async () => {
      const { clock, provider, onToken } = scheduled();
      await provider.get();
      provider.scheduleRefresh(onToken);
      clock.advance(50_000);
      await provider.refresh(); // tok2, valid 120 s from now
      expect(onToken).not.toHaveBeenCalled();
      clock.advance(89_999);
      await flushPromises();
      expect(onToken).not.toHaveBeenCalled();
      clock.advance(1);
      await flushPromises();
      expect(onToken).toHaveBeenCalledWith('tok3');
    });

    it('shares its fetch with a concurrent get()', async () => {
      const pending = deferred<TokenResult>();
      const clock = new FakeClock();
      const getToken = vi
        .fn<GetToken>()
        .mockReturnValueOnce({ token: 'a', expiresAt: clock.wall() + 60_000 })
        .mockReturnValueOnce(pending.promise);
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn();
      await provider.get();
      provider.scheduleRefresh(onToken);
      clock.advance(30_000);
      const getting = provider.get();
      expect(getToken).toHaveBeenCalledTimes(2);
      pending.resolve({ token: 'b', expiresAt: clock.wall() + 60_000 });
      await expect(getting).resolves.toBe('b');
      await flushPromises();
      expect(onToken).toHaveBeenCalledExactlyOnceWith('b');
    });

    it('never arms for tokens without expiresAt', async () => {
      const { clock, provider } = setup(() => 'forever');
      provider.scheduleRefresh(vi.fn());
      await provider.get();
      expect(clock.pending).toBe(0);
    });

    it('does not arm for a token already expired on arrival (a wrong local clock), so it cannot spin', async () => {
      const getToken = vi.fn<GetToken>(() => ({ token: 'stale', expiresAt: 1000 }));
      const { clock, provider } = setup(getToken);
      provider.scheduleRefresh(vi.fn());
      await provider.get();
      expect(clock.pending).toBe(0);
    });

    it('retries a failed refresh at half the time left while ≥ 1 s is left', async () => {
      const clock = new FakeClock();
      const expiresAt = clock.wall() + 120_000;
      const getToken = vi.fn<GetToken>().mockReturnValueOnce({ token: 'a', expiresAt });
      getToken.mockRejectedValue(new Error('idp down'));
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn();
      await provider.get();
      provider.scheduleRefresh(onToken);
      const attemptsAt: number[] = [];
      for (let i = 0; i < 10; i++) {
        const due = clock.nextDueAt();
        if (due === undefined) break;
        clock.advance(due - clock.now());
        attemptsAt.push(expiresAt - clock.wall());
        await flushPromises();
      }
      // Time left before expiry at each try: 30 s, 15 s, 7.5 s, 3.75 s, 1.875 s; then under 1 s would be left.
      expect(attemptsAt).toEqual([30_000, 15_000, 7500, 3750, 1875]);
      expect(getToken).toHaveBeenCalledTimes(6);
      expect(onToken).not.toHaveBeenCalled();
      expect(clock.pending).toBe(0);
    });

    it('never hands a refreshed token fetch cannot send to the live connection, and retries', async () => {
      // The refresh of a live connection (WebSocket's `auth` frame, SSE's and
      // long-poll's next request) gets the same check as a connect.
      const clock = new FakeClock();
      const getToken = vi
        .fn<GetToken>()
        .mockReturnValueOnce({ token: 'a', expiresAt: clock.wall() + 120_000 })
        .mockReturnValueOnce({ token: 'b\nc', expiresAt: clock.wall() + 120_000 })
        .mockImplementation(() => ({ token: 'd', expiresAt: clock.wall() + 120_000 }));
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn();
      await provider.get();
      provider.scheduleRefresh(onToken);
      clock.advance(90_000);
      await flushPromises();
      expect(getToken).toHaveBeenCalledTimes(2);
      expect(onToken).not.toHaveBeenCalled();
      // The retry, at half the 30 s left.
      clock.advance(15_000);
      await flushPromises();
      expect(onToken.mock.calls).toEqual([['d']]);
    });

    it('does not retry a refresh that fails after the schedule was cancelled', async () => {
      const clock = new FakeClock();
      const pending = deferred<TokenResult>();
      const getToken = vi
        .fn<GetToken>()
        .mockReturnValueOnce({ token: 'a', expiresAt: clock.wall() + 120_000 })
        .mockReturnValueOnce(pending.promise);
      const provider = providerOn(clock, getToken);
      await provider.get();
      const cancel = provider.scheduleRefresh(vi.fn());
      clock.advance(90_000);
      expect(getToken).toHaveBeenCalledTimes(2);
      cancel();
      pending.reject(new Error('idp down'));
      await flushPromises();
      expect(clock.pending).toBe(0);
    });

    it('goes back to the normal schedule once a retry succeeds', async () => {
      const clock = new FakeClock();
      const getToken = vi
        .fn<GetToken>()
        .mockReturnValueOnce({ token: 'a', expiresAt: clock.wall() + 120_000 })
        .mockRejectedValueOnce(new Error('blip'))
        .mockImplementation(() => ({ token: 'b', expiresAt: clock.wall() + 120_000 }));
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn();
      await provider.get();
      provider.scheduleRefresh(onToken);
      clock.advance(90_000);
      await flushPromises();
      expect(onToken).not.toHaveBeenCalled();
      clock.advance(15_000);
      await flushPromises();
      expect(onToken).toHaveBeenCalledWith('b');
      expect(clock.delays.at(-1)).toBe(90_000);
    });

    it('clamps a far expiry to the 32-bit timer limit and only looks again when woken early', async () => {
      const clock = new FakeClock();
      const expiresAt = clock.wall() + 2 * MAX_TIMER_DELAY_MS;
      const getToken = vi.fn<GetToken>(() => ({ token: 'long', expiresAt }));
      const provider = providerOn(clock, getToken);
      await provider.get();
      provider.scheduleRefresh(vi.fn());
      expect(clock.delays.at(-1)).toBe(MAX_TIMER_DELAY_MS);
      clock.advance(MAX_TIMER_DELAY_MS);
      expect(getToken).toHaveBeenCalledTimes(1);
      expect(clock.delays.at(-1)).toBe(MAX_TIMER_DELAY_MS - 30_000);
    });

    it('looks again instead of refreshing when the wall clock moved back', async () => {
      const { clock, provider, getToken, onToken } = scheduled();
      await provider.get();
      provider.scheduleRefresh(onToken);
      clock.wallOffset -= 10_000;
      clock.advance(90_000);
      expect(getToken).toHaveBeenCalledTimes(1);
      expect(clock.delays.at(-1)).toBe(10_000);
      clock.advance(10_000);
      await flushPromises();
      expect(onToken).toHaveBeenCalledWith('tok2');
    });

    it('keeps the schedule running when onToken throws', async () => {
      const reportError = vi.fn();
      vi.stubGlobal('reportError', reportError);
      const { clock, provider } = scheduled();
      await provider.get();
      provider.scheduleRefresh(() => {
        throw new Error('app bug');
      });
      clock.advance(90_000);
      await flushPromises();
      expect(reportError).toHaveBeenCalledOnce();
      expect(clock.pending).toBe(1);
    });

    it('replaces an earlier schedule', async () => {
      const { clock, provider, onToken } = scheduled();
      await provider.get();
      const first = vi.fn();
      provider.scheduleRefresh(first);
      provider.scheduleRefresh(onToken);
      expect(clock.pending).toBe(1);
      clock.advance(90_000);
      await flushPromises();
      expect(first).not.toHaveBeenCalled();
      expect(onToken).toHaveBeenCalledOnce();
    });

    it('stops when cancelled, also with a fetch in flight', async () => {
      const clock = new FakeClock();
      const pending = deferred<TokenResult>();
      const getToken = vi
        .fn<GetToken>()
        .mockReturnValueOnce({ token: 'a', expiresAt: clock.wall() + 60_000 })
        .mockReturnValueOnce(pending.promise);
      const provider = providerOn(clock, getToken);
      const onToken = vi.fn();
      await provider.get();
      const cancel = provider.scheduleRefresh(onToken);
      clock.advance(30_000);
      cancel();
      pending.resolve({ token: 'b', expiresAt: clock.wall() + 60_000 });
      await flushPromises();
      expect(onToken).not.toHaveBeenCalled();
      expect(clock.pending).toBe(0);
    });

    it('a stale cancel does not cancel a newer schedule', async () => {
      const { clock, provider, onToken } = scheduled();
      await provider.get();
      const cancelFirst = provider.scheduleRefresh(vi.fn());
      provider.scheduleRefresh(onToken);
      cancelFirst();
      expect(clock.pending).toBe(1);
    });

    it('invalidate() disarms the timer until the next token arrives', async () => {
      const { clock, provider, onToken } = scheduled();
      await provider.get();
      provider.scheduleRefresh(onToken);
      provider.invalidate();
      expect(clock.pending).toBe(0);
      await expect(provider.get()).resolves.toBe('tok2');
      expect(clock.pending).toBe(1);
    });
  });
});
