import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLLBACK_THRESHOLDS } from '../../src/observability/rollback-guard';
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_SLO_TARGETS } from '../../src/observability/thresholds';
import {
  DEFAULT_FLAGS,
  type RealtimeOptions,
  type RealtimePlatform,
  resolveOptions,
} from '../../src/options';

// Only `flags`, `slo`, `alerts` and `rollback` refused a key they do not have.
// Anywhere else a misspelt key was ignored without a word: `transport:
// ['sse']` kept the default chain, `circuit: { failureTreshold: 5 }` the
// default breaker, `auth: { getTokn }` failed on the missing getToken instead
// of naming the typo. Plain JavaScript, and TypeScript with the options built
// elsewhere (no excess-property check), got a client that did not do what
// they configured.

const url = 'https://api.example.com/v2/realtime';

function rangeError(options: object): string {
  try {
    resolveOptions({ url, ...options } as RealtimeOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(RangeError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

const TOP_LEVEL =
  'transports, leader, circuit, backoff, optimistic, telemetry, connectTimeoutMs, idleGraceMs, ' +
  'dedupWindow, maxFrameChars, devtools, persistCursor, appKey, flagsUrl, ' +
  'url, scope, flags, slo, alerts, rollback, platform, auth';
const PLATFORM =
  'clock, wallClock, random, WebSocket, fetch, window, document, navigator, locks, BroadcastChannel, indexedDB, storage';

describe('unknown option keys', () => {
  it.each([
    [
      'transport',
      { transport: ['sse'] },
      `transport is not an option (did you mean transports?); known: ${TOP_LEVEL}`,
    ],
    // A group's key given at the top level is no top-level option.
    ['getToken', { getToken: () => 't' }, `getToken is not an option; known: ${TOP_LEVEL}`],
    [
      'circuit.failureTreshold',
      { circuit: { failureTreshold: 5 } },
      'circuit.failureTreshold is not an option (did you mean failureThreshold?); known: failureThreshold, cooldownMs, maxCooldownMs',
    ],
    [
      'backoff.baseMS',
      { backoff: { baseMS: 100 } },
      'backoff.baseMS is not an option (did you mean baseMs?); known: baseMs, capMs',
    ],
    [
      'leader.stratgy',
      { leader: { stratgy: 'none' } },
      'leader.stratgy is not an option (did you mean strategy?); known: strategy, takeoverMs',
    ],
    [
      'telemetry.sampleRatee',
      { telemetry: { sampleRatee: 1 } },
      'telemetry.sampleRatee is not an option (did you mean sampleRate?); known: url, sampleRate, intervalMs, measure',
    ],
    [
      'auth.getTokn',
      { auth: { getTokn: () => 't' } },
      'auth.getTokn is not an option (did you mean getToken?); known: getToken, refreshSkewMs',
    ],
    [
      'scope.orgID',
      { scope: { orgID: 'org_1' } },
      'scope.orgID is not an option (did you mean orgId?); known: orgId, userId',
    ],
    [
      'optimistic.timeoutMS',
      { optimistic: { timeoutMS: 5000 } },
      'optimistic.timeoutMS is not an option (did you mean timeoutMs?); known: timeoutMs, maxPending',
    ],
    [
      'flagsUrl.intervalMS',
      { flagsUrl: { url: '/flags', intervalMS: 5000 } },
      'flagsUrl.intervalMS is not an option (did you mean intervalMs?); known: url, intervalMs',
    ],
    [
      'platform.Websocket',
      { platform: { Websocket: class {} } },
      `platform.Websocket is not an option (did you mean WebSocket?); known: ${PLATFORM}`,
    ],
  ])('refuses %s, naming it by its full path and the known keys', (_key, options, message) => {
    expect(rangeError(options)).toBe(message);
  });

  it('refuses an unknown key whose value is undefined, as flags, slo, alerts and rollback do', () => {
    expect(rangeError({ transport: undefined })).toBe(
      `transport is not an option (did you mean transports?); known: ${TOP_LEVEL}`,
    );
    expect(rangeError({ circuit: { failureTreshold: undefined } })).toMatch(
      /^circuit\.failureTreshold is not/,
    );
    expect(rangeError({ platform: { Websocket: undefined } })).toMatch(/^platform\.Websocket is not/);
  });

  it('still names the typo in flags, slo, alerts and rollback as before', () => {
    expect(rangeError({ flags: { emergencyDisabled: true } })).toMatch(
      /^flags\.emergencyDisabled is not a flag \(did you mean emergencyDisable\?\);/,
    );
    expect(rangeError({ slo: { deliveryP99: 1 } })).toMatch(
      /^slo\.deliveryP99 is not an option \(did you mean deliveryP99Ms\?\);/,
    );
    expect(rangeError({ alerts: { droppedEvents: 1 } })).toMatch(/^alerts\.droppedEvents is not an option;/);
    expect(rangeError({ rollback: { cooldwnMs: 1 } })).toMatch(
      /^rollback\.cooldwnMs is not a rollback threshold \(did you mean cooldownMs\?\);/,
    );
  });

  // A misspelt option used to get the list of known ones and no more: the
  // default build now names the one it is closest to (case, or ≤ 2 edits).
  it('suggests the nearest known name in the default build, and none for a key close to nothing', () => {
    expect(rangeError({ telemetery: {} })).toBe(
      `telemetery is not an option (did you mean telemetry?); known: ${TOP_LEVEL}`,
    );
    expect(rangeError({ Transports: ['sse'] })).toMatch(
      /^Transports is not an option \(did you mean transports\?\);/,
    );
    expect(rangeError({ conectTimeoutMS: 1 })).toMatch(
      /^conectTimeoutMS is not an option \(did you mean connectTimeoutMs\?\);/,
    );
    expect(rangeError({ rollback: { errorRtae: 0.1 } })).toMatch(
      /^rollback\.errorRtae is not a rollback threshold \(did you mean errorRate\?\); known: /,
    );
    expect(rangeError({ flags: { rolloutPrecent: 5 } })).toMatch(
      /^flags\.rolloutPrecent is not a flag \(did you mean rolloutPercent\?\); known: /,
    );
    expect(rangeError({ slo: { deliveryP50: 1 } })).toMatch(
      /^slo\.deliveryP50 is not an option \(did you mean deliveryP50Ms\?\); known: /,
    );
    // Too far from every name (3 edits or more, or as many as the key has characters).
    expect(rangeError({ getToken: () => 't' })).toBe(`getToken is not an option; known: ${TOP_LEVEL}`);
    expect(rangeError({ u: 'x' })).toBe(`u is not an option; known: ${TOP_LEVEL}`);
  });

  it('takes every known key, in every group', () => {
    const getToken = (): string => 't';
    const platform: Required<RealtimePlatform> = {
      WebSocket: class {},
      fetch: (() => Promise.reject(new Error('no'))) as typeof fetch,
      window: new EventTarget(),
      document: { visibilityState: 'visible' },
      navigator: { onLine: true },
      clock: { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} },
      wallClock: () => 5,
      random: () => 0.5,
      locks: {},
      BroadcastChannel: null,
      indexedDB: {},
      storage: { getItem: () => null, setItem: () => {}, removeItem: () => {} },
    };
    const options: Required<RealtimeOptions> = {
      url,
      scope: { orgId: 'org_1', userId: 'u_1' },
      transports: ['sse'],
      auth: { getToken, refreshSkewMs: 1000 },
      flags: { ...DEFAULT_FLAGS, rolloutPercent: 50 },
      leader: { strategy: 'storage', takeoverMs: 500 },
      circuit: { failureThreshold: 5, cooldownMs: 2000, maxCooldownMs: 4000 },
      backoff: { baseMs: 100, capMs: 200 },
      connectTimeoutMs: 5000,
      idleGraceMs: 0,
      dedupWindow: 64,
      maxFrameChars: 2048,
      devtools: false,
      optimistic: { timeoutMs: 100, maxPending: 5 },
      telemetry: { url: '/t', sampleRate: 1, intervalMs: 5000, measure: 'always' },
      slo: { ...DEFAULT_SLO_TARGETS },
      alerts: { ...DEFAULT_ALERT_THRESHOLDS },
      rollback: { ...DEFAULT_ROLLBACK_THRESHOLDS },
      flagsUrl: { url: '/flags', intervalMs: 5000 },
      persistCursor: true,
      appKey: 'app',
      platform,
    };
    const resolved = resolveOptions(options);
    expect(resolved).toMatchObject({
      scope: options.scope,
      transports: ['sse'],
      getToken,
      refreshSkewMs: 1000,
      leader: options.leader,
      circuit: options.circuit,
      backoff: options.backoff,
      optimistic: options.optimistic,
      telemetry: options.telemetry,
      flagsUrl: options.flagsUrl,
      appKey: 'app',
    });
    expect(resolved.platform).toEqual(platform);
  });

  it('takes a known key whose value is undefined for its default', () => {
    const resolved = resolveOptions({
      url,
      transports: undefined,
      circuit: { failureThreshold: undefined },
      platform: { WebSocket: undefined, locks: undefined },
    });
    expect(resolved.transports).toEqual(['websocket', 'sse', 'long-poll']);
    expect(resolved.circuit.failureThreshold).toBe(3);
    expect(resolved.platform.WebSocket).toBeUndefined();
  });
});
