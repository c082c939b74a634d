import { describe, expect, it } from 'vitest';
import { DEFAULT_FLAGS, resolveFlags, resolveOptions } from '../../src/options';

const url = 'https://api.example.com/v2/realtime/';

function rangeError(options: object): string {
  try {
    resolveOptions({ url, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(RangeError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('resolveOptions', () => {
  it('fills in every default', () => {
    const resolved = resolveOptions({ url });
    expect(resolved).toMatchObject({
      url: 'https://api.example.com/v2/realtime',
      scope: { orgId: '', userId: '' },
      transports: ['websocket', 'sse', 'long-poll'],
      getToken: undefined,
      refreshSkewMs: 30_000,
      flags: DEFAULT_FLAGS,
      leader: { strategy: 'auto', takeoverMs: 3000 },
      circuit: { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 60_000 },
      backoff: { baseMs: 500, capMs: 20_000 },
      connectTimeoutMs: 10_000,
      idleGraceMs: 1000,
      dedupWindow: 4096,
      maxFrameChars: 16 * 1024 * 1024,
      devtools: true,
      persistCursor: false,
      optimistic: { timeoutMs: 10_000, maxPending: 1000 },
      telemetry: { url: '/telemetry/client', sampleRate: 0.02, intervalMs: 60_000, measure: 'sampled' },
      flagsUrl: undefined,
      appKey: 'tabwire',
    });
  });

  it('keeps given values, and takes null for the default as undefined', () => {
    const resolved = resolveOptions({
      url,
      scope: { orgId: 'o' },
      leader: { takeoverMs: null as never },
      circuit: { cooldownMs: 5000 },
      idleGraceMs: null as never,
      flagsUrl: '/flags',
    });
    expect(resolved.scope).toEqual({ orgId: 'o', userId: '' });
    expect(resolved.leader.takeoverMs).toBe(3000);
    expect(resolved.circuit).toEqual({ failureThreshold: 3, cooldownMs: 5000, maxCooldownMs: 60_000 });
    expect(resolved.idleGraceMs).toBe(1000);
    expect(resolved.flagsUrl).toEqual({ url: '/flags', intervalMs: 30_000 });
  });

  it('names the field and the value of a bad option', () => {
    expect(rangeError({ circuit: { failureThreshold: 0 } })).toBe(
      'circuit.failureThreshold must be an integer ≥ 1, got 0',
    );
    expect(rangeError({ telemetry: { sampleRate: 2 } })).toBe(
      'telemetry.sampleRate must be a finite number ≥ 0 and ≤ 1, got 2',
    );
    expect(rangeError({ leader: { strategy: 'paxos' as never } })).toBe(
      'leader.strategy must be one of "auto", "locks", "storage", "none", got "paxos"',
    );
    expect(rangeError({ scope: { userId: 5 as never } })).toBe('scope.userId must be a string, got 5');
    expect(rangeError({ appKey: '' })).toBe('appKey must be a non-empty string, got ""');
    // An id cut inside a pair: the channel's name (encodeURIComponent) threw a bare URIError.
    const cut = '👤'.slice(0, 1);
    for (const [options, field] of [
      [{ scope: { orgId: `org_${cut}` } }, 'scope.orgId'],
      [{ scope: { orgId: 'o', userId: cut } }, 'scope.userId'],
      [{ appKey: `app${cut}` }, 'appKey'],
    ] as const)
      expect(rangeError(options)).toMatch(
        new RegExp(`^${field} must be a string without lone surrogates \\(cut inside a pair\\?\\), got "`),
      );
    expect(resolveOptions({ url, scope: { orgId: 'org_👤', userId: '👤' } }).scope).toEqual({
      orgId: 'org_👤',
      userId: '👤',
    });
    expect(rangeError({ devtools: 1 as never })).toBe('devtools must be a boolean, got 1');
    expect(rangeError({ flagsUrl: { url: '/f', intervalMs: 999 } })).toBe(
      'flagsUrl.intervalMs must be an integer ≥ 1000 and ≤ 2147483647, got 999',
    );
    expect(rangeError({ auth: { getToken: 'token' as never } })).toBe(
      'auth.getToken must be a function, got "token"',
    );
  });

  it.each([
    [99, 'leader.takeoverMs must be an integer ≥ 100 and ≤ 2147483647, got 99'],
    [150.5, 'leader.takeoverMs must be an integer ≥ 100 and ≤ 2147483647, got 150.5'],
    [Number.NaN, 'leader.takeoverMs must be an integer ≥ 100 and ≤ 2147483647, got NaN'],
    [2 ** 31, 'leader.takeoverMs must be an integer ≥ 100 and ≤ 2147483647, got 2147483648'],
  ])('bounds leader.takeoverMs: %s is refused', (takeoverMs, message) => {
    expect(rangeError({ leader: { takeoverMs } })).toBe(message);
  });

  it.each([
    [{ circuit: { cooldownMs: 0 } }, 'circuit.cooldownMs must be an integer ≥ 1 and ≤ 2147483647, got 0'],
    [
      { circuit: { maxCooldownMs: 2 ** 31 } },
      'circuit.maxCooldownMs must be an integer ≥ circuit.cooldownMs (1000) and ≤ 2147483647, got 2147483648',
    ],
    [
      { circuit: { maxCooldownMs: 500 } },
      'circuit.maxCooldownMs must be an integer ≥ circuit.cooldownMs (1000) and ≤ 2147483647, got 500',
    ],
    [{ backoff: { baseMs: Number.NaN } }, 'backoff.baseMs must be an integer ≥ 1 and ≤ 2147483647, got NaN'],
    [
      { backoff: { capMs: 2 ** 31 } },
      'backoff.capMs must be an integer ≥ backoff.baseMs (500) and ≤ 2147483647, got 2147483648',
    ],
    [
      { backoff: { capMs: 400 } },
      'backoff.capMs must be an integer ≥ backoff.baseMs (500) and ≤ 2147483647, got 400',
    ],
    [
      { auth: { getToken: (): string => 't', refreshSkewMs: -1 } },
      'auth.refreshSkewMs must be an integer ≥ 0 and ≤ 2147483647, got -1',
    ],
    [
      { auth: { getToken: (): string => 't', refreshSkewMs: 2 ** 31 } },
      'auth.refreshSkewMs must be an integer ≥ 0 and ≤ 2147483647, got 2147483648',
    ],
    [
      { connectTimeoutMs: 2 ** 31 },
      'connectTimeoutMs must be an integer ≥ 1 and ≤ 2147483647, got 2147483648',
    ],
    [{ idleGraceMs: 2 ** 31 }, 'idleGraceMs must be an integer ≥ 0 and ≤ 2147483647, got 2147483648'],
    [
      { optimistic: { timeoutMs: 2 ** 31 } },
      'optimistic.timeoutMs must be an integer ≥ 1 and ≤ 2147483647, got 2147483648',
    ],
    [{ dedupWindow: 15 }, 'dedupWindow must be an integer ≥ 16 and ≤ 1048576, got 15'],
    [{ dedupWindow: 2 ** 20 + 1 }, 'dedupWindow must be an integer ≥ 16 and ≤ 1048576, got 1048577'],
    [{ platform: { wallClock: 5 as never } }, 'platform.wallClock must be a function, got 5'],
    [{ platform: { random: 0.5 as never } }, 'platform.random must be a function, got 0.5'],
    // The built-in transports named in `transports` get these unchecked.
    [{ platform: { WebSocket: 42 } }, 'platform.WebSocket must be a function, got 42'],
    [{ platform: { fetch: 'fetch' as never } }, 'platform.fetch must be a function, got "fetch"'],
  ] as const)(
    'refuses %j, naming the field and its bounds (every delay ≤ the timer limit)',
    (options, message) => {
      expect(rangeError(options)).toBe(message);
    },
  );

  it('accepts dedupWindow up to 2^20', () => {
    expect(resolveOptions({ url, dedupWindow: 2 ** 20 }).dedupWindow).toBe(2 ** 20);
  });

  it('takes the platform clocks and random given, or the defaults', () => {
    const wallClock = () => 5;
    const random = () => 0.5;
    expect(resolveOptions({ url, platform: { wallClock, random } }).platform).toMatchObject({
      wallClock,
      random,
    });
    expect(resolveOptions({ url }).platform).toMatchObject({ wallClock: Date.now, random: Math.random });
  });

  it('takes the platform WebSocket and fetch given, and leaves them out by default', () => {
    const WebSocket = class {};
    const fetch = (() => Promise.reject(new Error('no'))) as typeof globalThis.fetch;
    expect(resolveOptions({ url, platform: { WebSocket, fetch } }).platform).toMatchObject({
      WebSocket,
      fetch,
    });
    const platform = resolveOptions({ url }).platform;
    expect(platform.WebSocket).toBeUndefined();
    expect(platform.fetch).toBeUndefined();
  });

  it('checks a default against a bound another option moved', () => {
    expect(rangeError({ circuit: { cooldownMs: 100_000 } })).toBe(
      'circuit.maxCooldownMs must be an integer ≥ circuit.cooldownMs (100000) and ≤ 2147483647, got 60000',
    );
    expect(rangeError({ backoff: { baseMs: 30_000 } })).toBe(
      'backoff.capMs must be an integer ≥ backoff.baseMs (30000) and ≤ 2147483647, got 20000',
    );
    // Both given: the message names the option the bound comes from, either may be the mistake.
    expect(rangeError({ backoff: { baseMs: 60_000, capMs: 1000 } })).toBe(
      'backoff.capMs must be an integer ≥ backoff.baseMs (60000) and ≤ 2147483647, got 1000',
    );
  });

  it('accepts only absolute http(s) URLs', () => {
    expect(rangeError({ url: 'ftp://x' })).toBe('url must be an absolute http(s) URL, got "ftp://x"');
    expect(rangeError({ url: '/relative' })).toBe('url must be an absolute http(s) URL, got "/relative"');
    expect(rangeError({ url: 'http://' })).toBe('url must be an absolute http(s) URL, got "http://"');
  });

  // A URL object used to read `got "http://…"`, which looks valid.
  it('says so when url is a URL object, which is no string', () => {
    expect(rangeError({ url: new URL('http://127.0.0.1:8787/v2/realtime') })).toBe(
      'url must be an absolute http(s) URL string, got a URL object: pass url.href',
    );
  });

  it('names a bad transports entry and shows it', () => {
    expect(rangeError({ transports: [] })).toBe('transports must be a non-empty array, got []');
    expect(rangeError({ transports: ['sse', 'pigeon' as never] })).toBe(
      'transports[1] must be "websocket","sse","long-poll" or a Transport, got "pigeon"',
    );
    expect(rangeError({ transports: [{ connect: async () => ({}) } as never] })).toMatch(/^transports\[0\]/);
    const custom = { name: 'custom', connect: async () => ({}) as never };
    expect(resolveOptions({ url, transports: ['sse', custom] }).transports).toEqual(['sse', custom]);
  });

  it('throws a TypeError for options that are not an object', () => {
    expect(() => resolveOptions(null as never)).toThrow(new TypeError('options must be an object, got null'));
  });
});

describe('resolveFlags', () => {
  it('puts the flags given over the base, checked', () => {
    expect(resolveFlags(DEFAULT_FLAGS, { rolloutPercent: 50, disabledOrgs: ['o'] })).toEqual({
      ...DEFAULT_FLAGS,
      rolloutPercent: 50,
      disabledOrgs: ['o'],
    });
    expect(resolveFlags(DEFAULT_FLAGS, undefined)).toBe(DEFAULT_FLAGS);
  });

  // A misspelled kill switch was ignored: `setFlags({ emergencyDisabled: true })`,
  // typed in DevTools during an incident, did nothing and said nothing.
  it('refuses a key that is no flag, naming it and the flags there are', () => {
    const known = 'enabled, emergencyDisable, shadowMode, rolloutPercent, disabledOrgs, disabledServices';
    expect(() => resolveFlags(DEFAULT_FLAGS, { emergencyDisabled: true } as never, 'setFlags')).toThrow(
      new RangeError(
        `setFlags.emergencyDisabled is not a flag (did you mean emergencyDisable?); known: ${known}`,
      ),
    );
    expect(() => resolveFlags(DEFAULT_FLAGS, { rolloutPercent: 5, extra: undefined } as never)).toThrow(
      new RangeError(`flags.extra is not a flag; known: ${known}`),
    );
  });

  it('rejects null for a flag, naming it under the given field', () => {
    expect(() => resolveFlags(DEFAULT_FLAGS, { enabled: null as never }, 'setFlags')).toThrow(
      new RangeError('setFlags.enabled must be a boolean, got null'),
    );
    expect(() => resolveFlags(DEFAULT_FLAGS, 5 as never)).toThrow(
      new TypeError('flags must be an object, got 5'),
    );
  });
});
