import type { Clock, RandomSource, WallClock } from './clock';
import { systemClock } from './clock';
import type { GetToken, TokenResult } from './connection/token-provider';
import { type RollbackThresholds, resolveRollbackThresholds } from './observability/rollback-guard';
import {
  type AlertThresholds,
  resolveAlertThresholds,
  resolveSloTargets,
  type SloTargets,
} from './observability/thresholds';
import { MAX_DEDUP_CAPACITY } from './pipeline/dedup-window';
import { DEFAULT_MAX_FRAME_CHARS } from './protocol/parse';
import { isObject } from './protocol/read';
import type { ResolvedFlags } from './state';
import { assertTransportList } from './transports/fallback';
import type { Transport } from './transports/types';
import { isHttpUrl } from './transports/url';
import { MAX_TIMER_DELAY_MS } from './util/timers';
import * as v from './util/validate';
import {
  assertBoolean as bool,
  type Check,
  type Defaults,
  assertFunction as fn,
  int,
  num,
  resolveGroup,
} from './util/validate';

export type { TokenResult };

/** A built-in transport by name, or a custom {@link Transport}. */
export type TransportOption = 'websocket' | 'sse' | 'long-poll' | Transport;

/** Election strategy: see docs/concepts.md. */
export type LeaderStrategy = 'auto' | 'locks' | 'storage' | 'none';

/**
 * The platform pieces tabwire uses. Browsers need none of them; Node and tests
 * inject what they have.
 */
export interface RealtimePlatform {
  /** The `WebSocket` constructor for the built-in transport; in Node 20, `ws`'s `WebSocket`. */
  WebSocket?: unknown;
  /** The `fetch` of the SSE and long-poll transports. */
  fetch?: typeof fetch;
  /** Fires `online`, `offline`, `pagehide`, `pageshow`, `freeze`, `resume`, `visibilitychange`. */
  window?: EventTarget;
  document?: { visibilityState?: string } & Partial<EventTarget>;
  navigator?: { onLine?: boolean };
  /** Monotonic clock and timers. */
  clock?: Clock;
  /** Epoch milliseconds (event `ts`, token expiry). */
  wallClock?: WallClock;
  random?: RandomSource;
  /** `navigator.locks`, for the `locks` election. */
  locks?: unknown;
  /** The `BroadcastChannel` constructor; `null` forces the localStorage channel. */
  BroadcastChannel?: unknown;
  /**
   * `indexedDB` (an `IDBFactory`), for `persistCursor`. Typed `unknown`, as
   * `locks` and `BroadcastChannel` are, so the shipped types name no DOM-only
   * global and a Node project without the DOM lib still type-checks them.
   */
  indexedDB?: unknown;
  /**
   * `localStorage`, for the storage lease, the channel fallback, the
   * remembered fallback transport and, with `persistCursor`, the cursor a
   * page leaves there as it unloads. Those cursors are found again by
   * `length` and `key`: a storage without both keeps none (the cursor then
   * comes from IndexedDB only).
   */
  storage?: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
    /** How many keys it holds: with `key`, lists `persistCursor`'s unload entries. */
    readonly length?: number;
    /** The key at `index`, or `null` past the last. */
    key?(index: number): string | null;
  };
}

/**
 * Options of {@link createRealtime}. Only `url` is required. They are
 * validated in the default build; the `production` build trusts them
 * (docs/options.md).
 */
export interface RealtimeOptions {
  /**
   * Absolute http(s) base URL of the PROTOCOL.md endpoints, e.g. `https://api.example.com/v2/realtime`
   * (same origin: `${location.origin}/v2/realtime`; a relative one is refused).
   * No user name or password: fetch refuses those (as in `telemetry.url`, `flagsUrl`).
   */
  url: string;
  /** Partitions tabs (channel and lock names) and rollout buckets; both default `''`. */
  scope?: { orgId?: string; userId?: string };
  /** Fallback order; default `['websocket', 'sse', 'long-poll']`. */
  transports?: TransportOption[];
  /** Bearer tokens; without `auth` the client connects anonymously. */
  auth?: {
    /**
     * Returns the token (a string, or `{ token, expiresAt? }` with
     * `expiresAt` in epoch ms, `null` or left out when unknown), or a promise
     * of it. The token must be a valid HTTP header value (no line break or
     * NUL, no character above U+00FF), else the attempt fails with
     * `auth_failed`. Called before the first connect, again `refreshSkewMs`
     * before `expiresAt`, and after a 401.
     */
    getToken: GetToken;
    /** Refresh this long before `expiresAt`; default 30000. */
    refreshSkewMs?: number;
  };
  /**
   * Kill switches and rollout (docs/rollout.md); defaults: `enabled: true`,
   * `emergencyDisable: false`, `disabledOrgs: []`, `rolloutPercent: 100`,
   * `shadowMode: false`, `disabledServices: []`. Change them at run time
   * with `setFlags`.
   */
  flags?: Partial<ResolvedFlags>;
  /**
   * Leader election (docs/concepts.md): `strategy` default `'auto'` (Web
   * Locks, else a localStorage lease, else none); `takeoverMs` (storage
   * lease only), how long a silent leader keeps its lease, default 3000.
   */
  leader?: { strategy?: LeaderStrategy; takeoverMs?: number };
  /**
   * Circuit breaker: opens after `failureThreshold` failed attempts in a row
   * (default 3), for `cooldownMs` (default 1000), doubling after each failed
   * probe up to `maxCooldownMs` (default 60000).
   */
  circuit?: { failureThreshold?: number; cooldownMs?: number; maxCooldownMs?: number };
  /**
   * Reconnect delays: full jitter between `baseMs` (default 500) and a
   * ceiling that doubles up to `capMs` (default 20000).
   */
  backoff?: { baseMs?: number; capMs?: number };
  /**
   * How long an attempt may wait for `welcome`, from the start of the
   * transport's connect, and before that for `auth.getToken`; default 10000.
   */
  connectTimeoutMs?: number;
  /** The connection is kept this long after the last subscriber left; default 1000. */
  idleGraceMs?: number;
  /** Dedup keys remembered per service; default 4096. */
  dedupWindow?: number;
  /** Frames longer than this (characters) are dropped and counted; default 16 Mi. */
  maxFrameChars?: number;
  /**
   * Installs `window.__realtimeState` until close(): this client's state, or
   * an array of states while several clients show theirs; default true.
   */
  devtools?: boolean;
  /**
   * Optimistic mutations: `timeoutMs`, how long an echo may take before
   * `trackMutation` reports a timeout (default 10000); `maxPending`,
   * mutations tracked at once, one more cancels the oldest (default 1000).
   */
  optimistic?: { timeoutMs?: number; maxPending?: number };
  /**
   * Sampled SLI reports: `url` (default `/telemetry/client`, relative to the
   * page), `sampleRate` 0..1 of sessions (default 0.02), `intervalMs` (60000).
   *
   * `measure`: which tabs measure SLIs (sketches, SLOs, alerts, the `sli`
   * event). `'sampled'` (default): sampled sessions, and any tab once
   * something listens to `sli`; the others never download that code.
   * `'always'`: every tab, e.g. to watch `getState().slo` in development.
   */
  telemetry?: { url?: string; sampleRate?: number; intervalMs?: number; measure?: 'sampled' | 'always' };
  /**
   * SLO targets, each over its default (delivery p50 500 ms, p99 2 s, p99.9
   * 5 s; takeover p95 500 ms, p99 2 s; 1 election per hour per tab; mutation
   * → visible p95 1 s; circuit open 0.1 %); evaluated into `getState().slo`.
   */
  slo?: Partial<SloTargets>;
  /**
   * Alert thresholds, each over its default (critical: circuit open 5 min,
   * 10 elections per hour, delivery p99 5 s for 10 min; warning: delivery p99
   * 3 s for 1 h, 3 elections per hour, 1 % of optimistic mutations timed out,
   * 10 dropped events in 5 min); evaluated into `getState().alerts`.
   */
  alerts?: Partial<AlertThresholds>;
  /**
   * The auto-rollback guard's thresholds, each over its default (error rate
   * 0.05, degraded rate 0.02, over 5 min and at least 20 frames; circuit
   * open 5 min; off for the rest of the session).
   */
  rollback?: Partial<RollbackThresholds>;
  /** A URL of flags JSON polled every `intervalMs` (default 30000); invalid payloads are ignored. */
  flagsUrl?: string | { url: string; intervalMs?: number };
  /**
   * Keep the browser's shared cursor in IndexedDB (per app, org and user), so
   * an app reopened after every tab was closed resumes without loss within
   * the server's replay window. Default false.
   */
  persistCursor?: boolean;
  /** Key that separates several tabwire apps on one origin; default `'tabwire'`. */
  appKey?: string;
  /** Platform pieces (default: the browser's globals); inject them in Node and in tests. */
  platform?: RealtimePlatform;
}

/**
 * Options after defaults and validation (in the default build; the
 * `production` build trusts them: docs/options.md).
 */
export interface ResolvedOptions {
  url: string;
  scope: { orgId: string; userId: string };
  transports: TransportOption[];
  getToken: GetToken | undefined;
  refreshSkewMs: number;
  flags: ResolvedFlags;
  leader: { strategy: LeaderStrategy; takeoverMs: number };
  circuit: { failureThreshold: number; cooldownMs: number; maxCooldownMs: number };
  backoff: { baseMs: number; capMs: number };
  connectTimeoutMs: number;
  idleGraceMs: number;
  dedupWindow: number;
  maxFrameChars: number;
  devtools: boolean;
  persistCursor: boolean;
  optimistic: { timeoutMs: number; maxPending: number };
  telemetry: { url: string; sampleRate: number; intervalMs: number; measure: 'sampled' | 'always' };
  slo: SloTargets;
  alerts: AlertThresholds;
  rollback: RollbackThresholds;
  flagsUrl: { url: string; intervalMs: number } | undefined;
  appKey: string;
  platform: Required<Pick<RealtimePlatform, 'clock' | 'wallClock' | 'random'>> & RealtimePlatform;
}

/** Flags of a client created without any. */
export const DEFAULT_FLAGS: ResolvedFlags = {
  enabled: true,
  emergencyDisable: false,
  disabledOrgs: [],
  rolloutPercent: 100,
  shadowMode: false,
  disabledServices: [],
};

// Options are resolved from tables: per option its default and its check.
// A check throws the RangeError of util/validate.ts, naming the option as the
// user wrote it (`circuit.cooldownMs`) and showing the value. The asserts of
// util/validate.ts are checks as they are: they return nothing, which keeps
// the value; a check that returns something (a copy, for an array) keeps that.
// The checks of the app's options catch a programmer's mistake only, so each
// is written `process.env.NODE_ENV !== 'production' && check`, inline (the
// bundler folds it and drops the check's code from the `production` build,
// and tests switch it at run time); normalisations (`flagsUrl`, `url`'s
// trailing slashes) and the flags' checks, which `setFlags` shares, are not.

/** A check that needs no `group` (all but {@link int}'s); {@link overlay} passes none. */
type SimpleCheck = (field: string, value: unknown) => unknown;

/** A delay in ms: setTimeout fires at once past 2^31 − 1, so that is every delay's bound. */
const ms = (min: number | string): Check => int(min, MAX_TIMER_DELAY_MS);
const oneOf =
  (allowed: readonly string[]): SimpleCheck =>
  (field, value) =>
    v.assertOneOf(field, value, allowed);
/** A function, or nothing. */
const optionalFn: SimpleCheck = (field, value) => (value === undefined ? value : fn(field, value));
const nonEmptyString: SimpleCheck = (field, value) => v.assertString(field, value, /* nonEmpty */ true);
const strings: SimpleCheck = (field, value) => {
  v.assertStringArray(field, value);
  return [...value];
};

/**
 * `base` with the options `input` gives (those not `undefined`; none for a
 * missing `input`), each checked as `prefix + key`, put over it: for partial
 * updates of an already valid `base` (`setFlags`, `scope`). A key without a
 * check is refused.
 */
function overlay<T extends object>(
  base: T,
  input: object | null | undefined,
  prefix: string,
  checks: { readonly [K in keyof T]: SimpleCheck },
  what = 'an option',
): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  const given = v.group(input, prefix, checks, what);
  for (const key in checks) {
    const value = given?.[key];
    if (value !== undefined) out[key] = checks[key](prefix + key, value) ?? value;
  }
  return out as T;
}

export const FLAG_CHECKS = {
  enabled: bool,
  emergencyDisable: bool,
  shadowMode: bool,
  rolloutPercent: num(0, 100),
  disabledOrgs: strings,
  disabledServices: strings,
} as const satisfies { readonly [K in keyof ResolvedFlags]: SimpleCheck };

/** A TypeError, not the RangeError of a bad option: the argument itself (`options`, `flags`) is no object. */
function needObject(field: string, value: unknown): void {
  if (typeof value !== 'object' || value === null) v.fail(field, 'an object', value, TypeError);
}

/** Validates a partial flags object (from options or `setFlags`) and merges it onto `base`. */
export function resolveFlags(
  base: ResolvedFlags,
  flags: Partial<ResolvedFlags> | undefined,
  field = 'flags',
): ResolvedFlags {
  if (flags === undefined) return base;
  needObject(field, flags);
  // A misspelled kill switch (`emergencyDisabled`, typed in DevTools during an
  // incident) would do nothing, silently: refused, as "not a flag".
  return overlay(base, flags, `${field}.`, FLAG_CHECKS, 'a flag');
}

type Defaulted = Pick<
  ResolvedOptions,
  | 'transports'
  | 'leader'
  | 'circuit'
  | 'backoff'
  | 'optimistic'
  | 'telemetry'
  | 'connectTimeoutMs'
  | 'idleGraceMs'
  | 'dedupWindow'
  | 'maxFrameChars'
  | 'devtools'
  | 'persistCursor'
  | 'appKey'
  | 'flagsUrl'
>;

/**
 * The options read with defaults: the groups, each with its table, then the
 * top-level options. Built per call, not once: each check's guard is read
 * when the options are resolved (tests switch the build's mode at run time).
 */
const defaults = (): Defaults<Defaulted> => ({
  transports: [
    ['websocket', 'sse', 'long-poll'],
    process.env.NODE_ENV !== 'production' && assertTransportList,
  ],
  leader: {
    strategy: ['auto', process.env.NODE_ENV !== 'production' && oneOf(['auto', 'locks', 'storage', 'none'])],
    takeoverMs: [3000, process.env.NODE_ENV !== 'production' && ms(100)],
  },
  circuit: {
    failureThreshold: [3, process.env.NODE_ENV !== 'production' && int(1)],
    cooldownMs: [1000, process.env.NODE_ENV !== 'production' && ms(1)],
    maxCooldownMs: [60_000, process.env.NODE_ENV !== 'production' && ms('cooldownMs')],
  },
  backoff: {
    baseMs: [500, process.env.NODE_ENV !== 'production' && ms(1)],
    capMs: [20_000, process.env.NODE_ENV !== 'production' && ms('baseMs')],
  },
  optimistic: {
    timeoutMs: [10_000, process.env.NODE_ENV !== 'production' && ms(1)],
    maxPending: [1000, process.env.NODE_ENV !== 'production' && int(1)],
  },
  telemetry: {
    url: ['/telemetry/client', process.env.NODE_ENV !== 'production' && nonEmptyString],
    sampleRate: [0.02, process.env.NODE_ENV !== 'production' && num(0, 1)],
    intervalMs: [60_000, process.env.NODE_ENV !== 'production' && ms(1000)],
    measure: ['sampled', process.env.NODE_ENV !== 'production' && oneOf(['sampled', 'always'])],
  },
  connectTimeoutMs: [10_000, process.env.NODE_ENV !== 'production' && ms(1)],
  idleGraceMs: [1000, process.env.NODE_ENV !== 'production' && ms(0)],
  dedupWindow: [4096, process.env.NODE_ENV !== 'production' && int(16, MAX_DEDUP_CAPACITY)],
  maxFrameChars: [DEFAULT_MAX_FRAME_CHARS, process.env.NODE_ENV !== 'production' && int(1024)],
  devtools: [true, process.env.NODE_ENV !== 'production' && bool],
  persistCursor: [false, process.env.NODE_ENV !== 'production' && bool],
  appKey: ['tabwire', process.env.NODE_ENV !== 'production' && nonEmptyString],
  // A normalisation (a string is `{ url }`), so run in both builds; it guards its own checks.
  flagsUrl: [undefined, resolveFlagsUrl],
});

/**
 * Applies defaults and normalisations, and validates every option once,
 * loudly, in the default build; the `production` build trusts them
 * (docs/options.md) and resolves valid options to the same result.
 */
export function resolveOptions(options: RealtimeOptions): ResolvedOptions {
  if (process.env.NODE_ENV !== 'production') {
    needObject('options', options);
    const url: unknown = options.url;
    // A URL object shows as its href, which looks valid: say what it is instead.
    if (url instanceof URL)
      throw new RangeError('url must be an absolute http(s) URL string, got a URL object: pass url.href');
    if (typeof url !== 'string' || !isHttpUrl(url)) v.fail('url', 'an absolute http(s) URL', url);
    // The channel's name escapes these with encodeURIComponent, which throws a
    // bare `URIError: URI malformed` on a lone surrogate (an id cut inside an
    // emoji's pair by a `slice`): name the option instead.
    const scope = options.scope as { orgId?: unknown; userId?: unknown } | undefined;
    for (const [field, value] of [
      ['appKey', options.appKey],
      ['scope.orgId', scope?.orgId],
      ['scope.userId', scope?.userId],
    ] as const)
      if (typeof value === 'string' && /\p{Cs}/u.test(value))
        v.fail(field, 'a string without lone surrogates (cut inside a pair?)', value);
  }

  // Checked in both builds: its checks are the flags' (setFlags), so skipping them would drop no code.
  const scope = overlay({ orgId: '', userId: '' }, options.scope, 'scope.', {
    orgId: v.assertString,
    userId: v.assertString,
  });

  const { auth } = options;
  const platform = options.platform ?? {};
  // Every top-level option but `auth` and those of the defaults' table, resolved.
  const apart = {
    url: options.url.replace(/\/+$/, ''),
    scope,
    // `null` is no flags, as for every group; `setFlags(null)` stays refused.
    flags: resolveFlags(DEFAULT_FLAGS, options.flags ?? undefined),
    slo: resolveSloTargets(options.slo),
    alerts: resolveAlertThresholds(options.alerts),
    rollback: resolveRollbackThresholds(options.rollback),
    platform: {
      ...platform,
      ...resolveGroup<
        Pick<RealtimePlatform, 'WebSocket' | 'fetch'> & {
          clock: Clock;
          wallClock: WallClock;
          random: RandomSource;
        }
      >(
        platform,
        'platform.',
        {
          // Taken as given: a clock is an object of three functions.
          clock: [systemClock],
          wallClock: [Date.now, process.env.NODE_ENV !== 'production' && fn],
          random: [Math.random, process.env.NODE_ENV !== 'production' && fn],
          // What the built-in transports named in `transports` are given.
          WebSocket: [undefined, process.env.NODE_ENV !== 'production' && optionalFn],
          fetch: [undefined, process.env.NODE_ENV !== 'production' && optionalFn],
        },
        // Known too, and taken as given.
        process.env.NODE_ENV !== 'production' &&
          ({
            window: 0,
            document: 0,
            navigator: 0,
            locks: 0,
            BroadcastChannel: 0,
            indexedDB: 0,
            storage: 0,
          } satisfies Record<
            Exclude<keyof RealtimePlatform, 'clock' | 'wallClock' | 'random' | 'WebSocket' | 'fetch'>,
            0
          >),
      ),
    },
  };
  return {
    ...apart,
    ...resolveGroup<Pick<ResolvedOptions, 'getToken' | 'refreshSkewMs'>>(auth, 'auth.', {
      // Required in a given `auth`; `null`, as for every group, is the default: anonymous.
      getToken: [undefined, process.env.NODE_ENV !== 'production' && (auth == null ? optionalFn : fn)],
      refreshSkewMs: [30_000, process.env.NODE_ENV !== 'production' && ms(0)],
    }),
    // `apart`'s keys and `auth` are top-level options too: a key none of them has is refused.
    ...resolveGroup(
      options,
      '',
      defaults(),
      process.env.NODE_ENV !== 'production' &&
        ({ ...apart, auth } satisfies Record<Exclude<keyof RealtimeOptions, keyof Defaulted>, unknown>),
    ),
  };
}

/** `flagsUrl` as `{ url, intervalMs }` (a string is the url), checked in the default build. */
function resolveFlagsUrl(field: string, option: unknown): ResolvedOptions['flagsUrl'] {
  if (option == null) return undefined;
  const given = (typeof option === 'string' ? { url: option } : option) as { url?: unknown };
  if (process.env.NODE_ENV !== 'production' && !isObject(given))
    v.fail(field, 'a URL string or { url, intervalMs }', option);
  return resolveGroup<{ url: string; intervalMs: number }>(given, `${field}.`, {
    // No default: what was given (a missing url, `null` too) is what is checked.
    url: [given.url as string, process.env.NODE_ENV !== 'production' && nonEmptyString],
    intervalMs: [30_000, process.env.NODE_ENV !== 'production' && ms(1000)],
  });
}
