import type { Clock, RandomSource, WallClock } from './clock';
import { systemClock } from './clock';
import { type RollbackThresholds, resolveRollbackThresholds } from './observability/rollback-guard';
import {
  type AlertThresholds,
  resolveAlertThresholds,
  resolveSloTargets,
  type SloTargets,
} from './observability/thresholds';
import type { ResolvedFlags } from './state';
import type { Transport } from './transports/types';
import { MAX_TIMER_DELAY_MS } from './util/timers';
import * as v from './util/validate';

// Value-returning forms of the assertions, so each option reads as one line.
const int = (field: string, value: unknown, min: number, max?: number): number => {
  v.assertInteger(field, value, min, max);
  return value;
};
const num = (field: string, value: unknown, min: number, max?: number): number => {
  v.assertNumber(field, value, min, max);
  return value;
};
const bool = (field: string, value: unknown): boolean => {
  v.assertBoolean(field, value);
  return value;
};
const str = (field: string, value: unknown, nonEmpty = false): string => {
  v.assertString(field, value, { nonEmpty });
  return value;
};
const oneOf = <T extends string>(field: string, value: unknown, allowed: readonly T[]): T => {
  v.assertOneOf(field, value, allowed);
  return value;
};
const strs = (field: string, value: unknown): string[] => {
  v.assertStringArray(field, value);
  return [...value];
};

import type { GetToken, TokenResult } from './connection/token-provider';

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
  WebSocket?: unknown;
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
  /** `indexedDB`, for `persistCursor`. */
  indexedDB?: IDBFactory;
  /** `localStorage`, for the storage lease and the channel fallback. */
  storage?: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  };
}

/** Options of {@link createRealtime}. Only `url` is required. */
export interface RealtimeOptions {
  /** Base URL of the PROTOCOL.md endpoints, e.g. `https://api.example.com/v2/realtime`. */
  url: string;
  /** Partitions tabs (channel and lock names) and rollout buckets. */
  scope?: { orgId?: string; userId?: string };
  /** Fallback order; default `['websocket', 'sse', 'long-poll']`. */
  transports?: TransportOption[];
  auth?: {
    getToken: GetToken;
    /** Refresh this long before `expiresAt`; default 30000. */
    refreshSkewMs?: number;
  };
  flags?: Partial<ResolvedFlags>;
  leader?: { strategy?: LeaderStrategy; takeoverMs?: number };
  circuit?: { failureThreshold?: number; cooldownMs?: number; maxCooldownMs?: number };
  /** Reconnect delays: full jitter between `baseMs` and a ceiling that doubles up to `capMs`. */
  backoff?: { baseMs?: number; capMs?: number };
  /** How long to wait for `welcome` after the transport opened; default 10000. */
  connectTimeoutMs?: number;
  /** The connection is kept this long after the last subscriber left; default 1000. */
  idleGraceMs?: number;
  /** Dedup keys remembered per service; default 4096. */
  dedupWindow?: number;
  /** Frames longer than this (characters) are dropped and counted; default 16 Mi. */
  maxFrameChars?: number;
  /** Installs `window.__realtimeState`; default true. */
  devtools?: boolean;
  /** Optimistic mutations: how long an echo may take before `trackMutation` reports a timeout. */
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
  /** SLO targets (defaults: the seed's); evaluated into `getState().slo`. */
  slo?: Partial<SloTargets>;
  /** Alert thresholds (defaults: the seed's); evaluated into `getState().alerts`. */
  alerts?: Partial<AlertThresholds>;
  /** The auto-rollback guard's thresholds (defaults: the seed's). */
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
  platform?: RealtimePlatform;
}

/** Options after defaults and validation. */
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

/** Validates a partial flags object (from options or `setFlags`) and merges it onto `base`. */
export function resolveFlags(
  base: ResolvedFlags,
  flags: Partial<ResolvedFlags> | undefined,
  field = 'flags',
): ResolvedFlags {
  if (flags === undefined) return base;
  if (typeof flags !== 'object' || flags === null)
    throw new TypeError(`${field} must be an object, got ${String(flags)}`);
  const next = { ...base };
  if (flags.enabled !== undefined) next.enabled = bool(`${field}.enabled`, flags.enabled);
  if (flags.emergencyDisable !== undefined)
    next.emergencyDisable = bool(`${field}.emergencyDisable`, flags.emergencyDisable);
  if (flags.shadowMode !== undefined) next.shadowMode = bool(`${field}.shadowMode`, flags.shadowMode);
  if (flags.rolloutPercent !== undefined)
    next.rolloutPercent = num(`${field}.rolloutPercent`, flags.rolloutPercent, 0, 100);
  if (flags.disabledOrgs !== undefined) next.disabledOrgs = strs(`${field}.disabledOrgs`, flags.disabledOrgs);
  if (flags.disabledServices !== undefined)
    next.disabledServices = strs(`${field}.disabledServices`, flags.disabledServices);
  return next;
}

const TRANSPORT_NAMES = ['websocket', 'sse', 'long-poll'] as const;

/** Applies defaults and validates every option once, loudly. */
export function resolveOptions(options: RealtimeOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`createRealtime needs an options object, got ${String(options)}`);
  }
  const url = str('url', options.url, true);
  try {
    new URL(url);
  } catch {
    throw new RangeError(`url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (!/^https?:/i.test(url))
    throw new RangeError(`url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);

  const scope = { orgId: '', userId: '' };
  if (options.scope !== undefined) {
    if (options.scope.orgId !== undefined) scope.orgId = str('scope.orgId', options.scope.orgId);
    if (options.scope.userId !== undefined) scope.userId = str('scope.userId', options.scope.userId);
  }

  const transports = options.transports ?? ['websocket', 'sse', 'long-poll'];
  if (!Array.isArray(transports) || transports.length === 0) {
    throw new RangeError(`transports must be a non-empty array, got ${JSON.stringify(transports)}`);
  }
  transports.forEach((t, i) => {
    if (typeof t === 'string') v.assertOneOf(`transports[${i}]`, t, TRANSPORT_NAMES);
    else if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.connect !== 'function' ||
      typeof t.name !== 'string'
    ) {
      throw new TypeError(`transports[${i}] must be a transport name or a Transport object`);
    }
  });

  let getToken: ResolvedOptions['getToken'];
  if (options.auth !== undefined) {
    v.assertFunction('auth.getToken', options.auth.getToken);
    getToken = options.auth.getToken;
  }
  const refreshSkewMs = int('auth.refreshSkewMs', options.auth?.refreshSkewMs ?? 30_000, 0);

  const strategy = options.leader?.strategy ?? 'auto';
  v.assertOneOf('leader.strategy', strategy, ['auto', 'locks', 'storage', 'none'] as const);
  const takeoverMs = int('leader.takeoverMs', options.leader?.takeoverMs ?? 3000, 100);

  const failureThreshold = int('circuit.failureThreshold', options.circuit?.failureThreshold ?? 3, 1);
  const cooldownMs = int('circuit.cooldownMs', options.circuit?.cooldownMs ?? 1000, 1);
  const maxCooldownMs = int('circuit.maxCooldownMs', options.circuit?.maxCooldownMs ?? 60_000, cooldownMs);

  const baseMs = int('backoff.baseMs', options.backoff?.baseMs ?? 500, 1);
  const capMs = int('backoff.capMs', options.backoff?.capMs ?? 20_000, baseMs);

  const platform = options.platform ?? {};
  return {
    url: url.replace(/\/+$/, ''),
    scope,
    transports,
    getToken,
    refreshSkewMs,
    flags: resolveFlags(DEFAULT_FLAGS, options.flags),
    leader: { strategy, takeoverMs },
    circuit: { failureThreshold, cooldownMs, maxCooldownMs },
    backoff: { baseMs, capMs },
    connectTimeoutMs: int('connectTimeoutMs', options.connectTimeoutMs ?? 10_000, 1),
    idleGraceMs: int('idleGraceMs', options.idleGraceMs ?? 1000, 0),
    dedupWindow: int('dedupWindow', options.dedupWindow ?? 4096, 16),
    maxFrameChars: int('maxFrameChars', options.maxFrameChars ?? 16 * 1024 * 1024, 1024),
    devtools: bool('devtools', options.devtools ?? true),
    persistCursor: bool('persistCursor', options.persistCursor ?? false),
    optimistic: {
      timeoutMs: int('optimistic.timeoutMs', options.optimistic?.timeoutMs ?? 10_000, 1),
      maxPending: int('optimistic.maxPending', options.optimistic?.maxPending ?? 1000, 1),
    },
    telemetry: {
      url: str('telemetry.url', options.telemetry?.url ?? '/telemetry/client', true),
      sampleRate: num('telemetry.sampleRate', options.telemetry?.sampleRate ?? 0.02, 0, 1),
      intervalMs: int(
        'telemetry.intervalMs',
        options.telemetry?.intervalMs ?? 60_000,
        1000,
        MAX_TIMER_DELAY_MS,
      ),
      measure: oneOf('telemetry.measure', options.telemetry?.measure ?? 'sampled', [
        'sampled',
        'always',
      ] as const),
    },
    slo: resolveSloTargets(options.slo),
    alerts: resolveAlertThresholds(options.alerts),
    rollback: resolveRollbackThresholds(options.rollback),
    flagsUrl: resolveFlagsUrl(options.flagsUrl),
    appKey: str('appKey', options.appKey ?? 'tabwire', true),
    platform: {
      ...platform,
      clock: platform.clock ?? systemClock,
      wallClock: platform.wallClock ?? Date.now,
      random: platform.random ?? Math.random,
    },
  };
}

function resolveFlagsUrl(option: RealtimeOptions['flagsUrl']): ResolvedOptions['flagsUrl'] {
  if (option === undefined) return undefined;
  const { url, intervalMs } = typeof option === 'string' ? { url: option, intervalMs: undefined } : option;
  return {
    url: str('flagsUrl.url', url, true),
    intervalMs: int('flagsUrl.intervalMs', intervalMs ?? 30_000, 1000, MAX_TIMER_DELAY_MS),
  };
}
