import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { systemClock } from '../../src/clock';
import { DEFAULT_ROLLBACK_THRESHOLDS } from '../../src/observability/rollback-guard';
import { DEFAULT_FLAGS, type RealtimeOptions, resolveFlags, resolveOptions } from '../../src/options';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { longPollTransport, sseTransport, websocketTransport } from '../../src/transports/builtins';
import type { Transport } from '../../src/transports/types';
import { memoryOptions } from './react/helpers';

// The `production` build (process.env.NODE_ENV === 'production', folded by
// the bundler) leaves out the checks of createRealtime's options, which only
// catch a programmer's mistake: it must still resolve valid options to
// exactly what the default build resolves them to, really skip the checks,
// and keep checking what comes from operators (setFlags).

const MAX_DELAY = 2_147_483_647;

/** `run` with the build's mode switched to `production` (read at call time). */
function inProduction<T>(run: () => T): T {
  vi.stubEnv('NODE_ENV', 'production');
  try {
    return run();
  } finally {
    vi.unstubAllEnvs();
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
});

const custom: Transport = { name: 'custom', connect: async () => ({}) as never };

/** A group of options: left out, `null` (its defaults), or some of its keys. */
function optionalGroup<T extends object>(record: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> {
  return fc.oneof(fc.constant(undefined), fc.constant(null), record);
}

/** A value or, as often, left out (`undefined` or `null`: the default). */
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> =>
  fc.oneof(arb, fc.constant(undefined), fc.constant(null));

const delay = (min: number) => fc.integer({ min, max: MAX_DELAY });
const text = fc.string({ minLength: 1, maxLength: 8 });

/** `{ low, high }` with low ≤ high, each maybe left out where its default keeps them in order. */
function ordered(min: number, lowDefault: number, highDefault: number, max = MAX_DELAY) {
  return fc.integer({ min, max }).chain((low) =>
    fc
      .record(
        {
          low: fc.constant(low),
          high: fc.integer({ min: low, max }),
        },
        { requiredKeys: [] },
      )
      .filter(({ low: l = lowDefault, high: h = highDefault }) => l <= h),
  );
}

const validOptions: fc.Arbitrary<RealtimeOptions> = fc.record(
  {
    url: fc.constantFrom(
      'https://api.example.com/v2/realtime',
      'https://api.example.com/v2/realtime///',
      'http://localhost:8080/rt/',
    ),
    scope: optionalGroup(fc.record({ orgId: fc.string(), userId: fc.string() }, { requiredKeys: [] })),
    transports: maybe(
      fc.shuffledSubarray<string | Transport>(['websocket', 'sse', 'long-poll', custom], { minLength: 1 }),
    ),
    auth: optionalGroup(
      fc.record(
        { getToken: fc.constant(() => 'token'), refreshSkewMs: maybe(delay(0)) },
        { requiredKeys: ['getToken'] },
      ),
    ),
    flags: optionalGroup(
      fc.record(
        {
          enabled: fc.boolean(),
          emergencyDisable: fc.boolean(),
          disabledOrgs: fc.array(fc.string()),
          rolloutPercent: fc.double({ min: 0, max: 100, noNaN: true }),
          shadowMode: fc.boolean(),
          disabledServices: fc.array(fc.string()),
        },
        { requiredKeys: [] },
      ),
    ),
    leader: optionalGroup(
      fc.record(
        {
          strategy: maybe(fc.constantFrom('auto', 'locks', 'storage', 'none')),
          takeoverMs: maybe(delay(100)),
        },
        { requiredKeys: [] },
      ),
    ),
    circuit: optionalGroup(
      fc
        .tuple(maybe(fc.integer({ min: 1, max: 100 })), ordered(1, 1000, 60_000))
        .map(([failureThreshold, { low, high }]) => ({
          failureThreshold,
          cooldownMs: low,
          maxCooldownMs: high,
        })),
    ),
    backoff: optionalGroup(ordered(1, 500, 20_000).map(({ low, high }) => ({ baseMs: low, capMs: high }))),
    connectTimeoutMs: maybe(delay(1)),
    idleGraceMs: maybe(delay(0)),
    dedupWindow: maybe(fc.integer({ min: 16, max: 2 ** 20 })),
    maxFrameChars: maybe(fc.integer({ min: 1024, max: 2 ** 40 })),
    devtools: maybe(fc.boolean()),
    persistCursor: maybe(fc.boolean()),
    optimistic: optionalGroup(
      fc.record(
        { timeoutMs: maybe(delay(1)), maxPending: maybe(fc.integer({ min: 1 })) },
        { requiredKeys: [] },
      ),
    ),
    telemetry: optionalGroup(
      fc.record(
        {
          url: maybe(text),
          sampleRate: maybe(fc.double({ min: 0, max: 1, noNaN: true })),
          intervalMs: maybe(delay(1000)),
          measure: maybe(fc.constantFrom('sampled', 'always')),
        },
        { requiredKeys: [] },
      ),
    ),
    slo: fc.option(
      fc.record(
        {
          deliveryP50Ms: fc.double({ min: 0.001, max: 1e6, noNaN: true }),
          deliveryP99Ms: fc.double({ min: 0.001, max: 1e6, noNaN: true }),
          circuitOpenPercent: fc.double({ min: 0.001, max: 100, noNaN: true }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    alerts: fc.option(
      fc.record(
        {
          circuitOpenCriticalMs: fc.integer({ min: 0 }),
          optimisticTimeoutRateWarning: fc.double({ min: 0, max: 1, noNaN: true }),
          droppedEventsWarning: maybe(fc.integer({ min: 0 })),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    rollback: fc.option(
      fc
        .tuple(
          fc.option(
            fc
              .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
              .map(([a, b]) => ({ degradedRate: Math.min(a, b), errorRate: Math.max(a, b) })),
            { nil: undefined },
          ),
          fc.record(
            {
              windowMs: fc.integer({ min: 1000 }),
              minSamples: fc.integer({ min: 1 }),
              circuitOpenMs: fc.integer({ min: 1 }),
              cooldownMs: fc.integer({ min: 0 }),
            },
            { requiredKeys: [] },
          ),
        )
        .map(([rates, rest]) => ({ ...rates, ...rest })),
      { nil: undefined },
    ),
    flagsUrl: maybe(
      fc.oneof(text, fc.record({ url: text, intervalMs: maybe(delay(1000)) }, { requiredKeys: ['url'] })),
    ),
    appKey: maybe(text),
    platform: optionalGroup(
      fc.record(
        {
          clock: fc.constant(systemClock),
          wallClock: fc.constant(() => 5),
          random: fc.constant(() => 0.5),
          WebSocket: fc.constant(class {}),
          fetch: fc.constant((() => Promise.reject(new Error('no'))) as typeof fetch),
          window: fc.constant(new EventTarget()),
          navigator: fc.constant({ onLine: true }),
          locks: fc.constant({}),
          BroadcastChannel: fc.constant(null),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: ['url'] },
) as fc.Arbitrary<RealtimeOptions>;

describe('resolveOptions in the production build', () => {
  it('resolves valid options to exactly what the default build does', () => {
    fc.assert(
      fc.property(validOptions, (options) => {
        const checked = resolveOptions(options);
        expect(inProduction(() => resolveOptions(options))).toStrictEqual(checked);
      }),
      { numRuns: 300 },
    );
  });

  it('normalises as the default build: trailing slashes, flagsUrl as a string, copied flag arrays', () => {
    const disabledOrgs = ['o'];
    const resolved = inProduction(() =>
      resolveOptions({ url: 'https://x.test/rt//', flagsUrl: '/flags', flags: { disabledOrgs } }),
    );
    expect(resolved.url).toBe('https://x.test/rt');
    expect(resolved.flagsUrl).toEqual({ url: '/flags', intervalMs: 30_000 });
    expect(resolved.flags.disabledOrgs).toEqual(['o']);
    expect(resolved.flags.disabledOrgs).not.toBe(disabledOrgs);
  });

  // Each is refused by the default build (checked first, so this test fails
  // if a check is not skipped) and taken as given by the production build.
  it.each<
    [string, Partial<RealtimeOptions>, (resolved: ReturnType<typeof resolveOptions>) => unknown, unknown]
  >([
    ['a value out of range', { circuit: { failureThreshold: 0 } }, (r) => r.circuit.failureThreshold, 0],
    ['a bound another option moved', { backoff: { baseMs: 30_000 } }, (r) => r.backoff.capMs, 20_000],
    ['an unknown transport', { transports: ['pigeon' as never] }, (r) => r.transports, ['pigeon']],
    ['a misspelt group key', { circuit: { cooldwnMs: 5 } as never }, (r) => r.circuit.cooldownMs, 1000],
    ['a misspelt top-level key', { transport: ['sse'] } as never, (r) => r.transports.length, 3],
    ['a group that is no object', { telemetry: 0 as never }, (r) => r.telemetry.sampleRate, 0.02],
    ['a wrong type', { devtools: 1 as never }, (r) => r.devtools, 1],
    ['a relative url', { url: '/relative' }, (r) => r.url, '/relative'],
    ['a bad slo target', { slo: { deliveryP50Ms: 0 } }, (r) => r.slo.deliveryP50Ms, 0],
    ['a misspelt alert', { alerts: { droppedEvents: 1 } as never }, (r) => r.alerts.droppedEventsWarning, 10],
    [
      'rollback rates out of order',
      { rollback: { degradedRate: 0.5, errorRate: 0.1 } },
      (r) => r.rollback,
      { ...DEFAULT_ROLLBACK_THRESHOLDS, degradedRate: 0.5, errorRate: 0.1 },
    ],
    [
      'a short flagsUrl interval',
      { flagsUrl: { url: '/f', intervalMs: 5 } },
      (r) => r.flagsUrl?.intervalMs,
      5,
    ],
    [
      'a platform piece that is no function',
      { platform: { random: 0.5 as never } },
      (r) => r.platform.random,
      0.5,
    ],
    ['auth without getToken', { auth: {} as never }, (r) => r.getToken, undefined],
  ])('skips the check of %s', (_what, options, pick, expected) => {
    const all = { url: 'https://x.test/rt', ...options } as RealtimeOptions;
    expect(() => resolveOptions(all)).toThrow(RangeError);
    expect(pick(inProduction(() => resolveOptions(all)))).toEqual(expected);
  });
});

describe('what the production build still checks', () => {
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const rt of clients.splice(0)) await rt.close();
  });

  it('refuses a flag that is none, or a bad value, in resolveFlags (setFlags, the flags poller)', () => {
    inProduction(() => {
      // Without the default build's `(did you mean emergencyDisable?)`: the production build leaves its code out.
      expect(() => resolveFlags(DEFAULT_FLAGS, { emergencyDisabled: true } as never, 'setFlags')).toThrow(
        /^setFlags\.emergencyDisabled is not a flag; known: /,
      );
      expect(() => resolveFlags(DEFAULT_FLAGS, { rolloutPercent: 101 }, 'setFlags')).toThrow(
        new RangeError('setFlags.rolloutPercent must be a finite number ≥ 0 and ≤ 100, got 101'),
      );
    });
  });

  it("refuses a misspelt kill switch in a client's setFlags", () => {
    inProduction(() => {
      const rt = createRealtime(memoryOptions(createMemoryBackend()));
      clients.push(rt);
      expect(() => rt.setFlags({ emergencyDisabled: true } as never)).toThrow(
        /\.emergencyDisabled is not a flag; known: /,
      );
    });
  });
});

describe('the exported transport factories in the production build', () => {
  it('take their options as given', () => {
    expect(() => websocketTransport({ path: 'a?b' })).toThrow(RangeError);
    expect(() => sseTransport({ maxFrameChars: 0 })).toThrow(RangeError);
    expect(() => longPollTransport({ waitSeconds: -1 })).toThrow(RangeError);
    inProduction(() => {
      expect(websocketTransport({ path: 'a?b' }).name).toBe('websocket');
      expect(sseTransport({ maxFrameChars: 0 }).name).toBe('sse');
      expect(longPollTransport({ waitSeconds: -1 }).name).toBe('long-poll');
    });
  });
});
