import type { WallClock } from '../clock';
import { serviceNameSchema } from '../protocol/schemas';
import type { DevServerOptions, TokenVerifier } from './types';

/** {@link DevServerOptions} with every default filled in, validated once. */
export interface ResolvedDevServerOptions {
  port: number;
  host: string;
  basePath: string;
  heartbeatMs: number;
  helloTimeoutMs: number;
  replayBufferSize: number;
  batchWindowMs: { min: number; max: number };
  maxBatchSize: number;
  verifyToken: TokenVerifier | undefined;
  maxConnections: number;
  maxConnectionsPerOrigin: number;
  overloadedRetryAfterMs: number;
  pollWaitSeconds: number;
  pollIdleTimeoutMs: number;
  quarantine: {
    queueLimitBytes: number;
    dropQueueBytes: number;
    overflowsToQuarantine: number;
    windowMs: number;
    durationMs: number;
    lowTierServices: string[];
    healthyMs: number;
  };
  static: Record<string, string>;
  log: (line: string) => void;
  wallClock: WallClock;
}

/** Default of `quarantine.dropQueueBytes` (raised to 16 × `queueLimitBytes` when that is larger). */
export const DEFAULT_DROP_QUEUE_BYTES = 64 * 1024 * 1024;

/** Longest long-poll `wait` the server grants, in seconds. */
export const MAX_POLL_WAIT_SECONDS = 60;

function fail(field: string, value: unknown, rule: string): never {
  throw new RangeError(
    `devserver option ${field} must be ${rule}, got ${JSON.stringify(value) ?? String(value)}`,
  );
}

function integer(
  field: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max)
    fail(field, value, `an integer in ${min}..${max}`);
  return value;
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) fail(field, value, 'a finite number > 0');
  return value;
}

function normaliseBasePath(value: string | undefined): string {
  if (value === undefined) return '/v2/realtime';
  if (typeof value !== 'string' || !/^(\/[A-Za-z0-9._~-]+)*\/?$/.test(value)) {
    fail('basePath', value, "a path like '/v2/realtime'");
  }
  return value.replace(/\/+$/, '');
}

function normaliseStatic(value: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [prefix, dir] of Object.entries(value ?? {})) {
    if (!prefix.startsWith('/')) fail(`static['${prefix}']`, prefix, "a URL prefix starting with '/'");
    if (typeof dir !== 'string' || dir.length === 0) fail(`static['${prefix}']`, dir, 'a directory path');
    out[prefix.replace(/\/+$/, '') || '/'] = dir;
  }
  return out;
}

// Every key, so that TypeScript flags a new option missing here.
const TOP_KEYS: Record<keyof DevServerOptions, true> = {
  port: true,
  host: true,
  basePath: true,
  heartbeatMs: true,
  helloTimeoutMs: true,
  replayBufferSize: true,
  batchWindowMs: true,
  maxBatchSize: true,
  verifyToken: true,
  maxConnections: true,
  maxConnectionsPerOrigin: true,
  overloadedRetryAfterMs: true,
  pollWaitSeconds: true,
  pollIdleTimeoutMs: true,
  quarantine: true,
  static: true,
  log: true,
  wallClock: true,
};
const QUARANTINE_KEYS: Record<keyof NonNullable<DevServerOptions['quarantine']>, true> = {
  queueLimitBytes: true,
  dropQueueBytes: true,
  overflowsToQuarantine: true,
  windowMs: true,
  durationMs: true,
  lowTierServices: true,
  healthyMs: true,
};
const OPTION_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(TOP_KEYS),
  'batchWindowMs.': ['min', 'max'],
  'quarantine.': Object.keys(QUARANTINE_KEYS),
};

// A misspelt option (`heartbeat` for `heartbeatMs`) must not be dropped in
// silence, as createRealtime refuses one too: TypeScript catches it only in
// an object literal written in the call.
function refuseUnknownKeys(group: string, value: unknown): void {
  if (value === undefined || (value === null && group !== '')) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (group === '') {
      throw new TypeError(
        `startDevServer takes an options object (e.g. { port: 8787 }), got ${JSON.stringify(value) ?? String(value)}`,
      );
    }
    fail(group.slice(0, -1), value, 'an object');
  }
  const known = OPTION_KEYS[group] ?? [];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new RangeError(`devserver option ${group}${key} does not exist; known: ${known.join(', ')}`);
    }
  }
}

/** Fills defaults and validates; throws a `RangeError` naming the first bad field. */
export function resolveDevServerOptions(options: DevServerOptions = {}): ResolvedDevServerOptions {
  refuseUnknownKeys('', options);
  refuseUnknownKeys('batchWindowMs.', options.batchWindowMs);
  refuseUnknownKeys('quarantine.', options.quarantine);
  const windowMin = positive('batchWindowMs.min', options.batchWindowMs?.min, 30);
  const windowMax = positive('batchWindowMs.max', options.batchWindowMs?.max, 150);
  if (windowMax < windowMin) fail('batchWindowMs.max', windowMax, `>= batchWindowMs.min (${windowMin})`);
  const q = options.quarantine ?? {};
  const queueLimitBytes = integer('quarantine.queueLimitBytes', q.queueLimitBytes, 1024 * 1024, 0, 2 ** 40);
  const lowTier = q.lowTierServices ?? ['analytics', 'dashboard'];
  if (!Array.isArray(lowTier) || !lowTier.every((s) => serviceNameSchema.safeParse(s).success)) {
    fail('quarantine.lowTierServices', lowTier, 'an array of service names');
  }
  if (options.verifyToken !== undefined && typeof options.verifyToken !== 'function') {
    fail('verifyToken', typeof options.verifyToken, 'a function');
  }
  return {
    port: integer('port', options.port, 0, 0, 65535),
    host: options.host ?? '127.0.0.1',
    basePath: normaliseBasePath(options.basePath),
    heartbeatMs: integer('heartbeatMs', options.heartbeatMs, 15_000, 1, 3_600_000),
    helloTimeoutMs: integer('helloTimeoutMs', options.helloTimeoutMs, 10_000, 1, 3_600_000),
    replayBufferSize: integer('replayBufferSize', options.replayBufferSize, 1000, 1, 10_000_000),
    batchWindowMs: { min: windowMin, max: windowMax },
    maxBatchSize: integer('maxBatchSize', options.maxBatchSize, 500, 1, 1_000_000),
    verifyToken: options.verifyToken,
    maxConnections: integer('maxConnections', options.maxConnections, 10_000, 0, 10_000_000),
    maxConnectionsPerOrigin: integer(
      'maxConnectionsPerOrigin',
      options.maxConnectionsPerOrigin,
      1000,
      0,
      10_000_000,
    ),
    overloadedRetryAfterMs: integer(
      'overloadedRetryAfterMs',
      options.overloadedRetryAfterMs,
      2000,
      0,
      86_400_000,
    ),
    pollWaitSeconds: (() => {
      const v = options.pollWaitSeconds ?? 25;
      if (!Number.isFinite(v) || v < 0 || v > MAX_POLL_WAIT_SECONDS) {
        fail('pollWaitSeconds', v, `a number in 0..${MAX_POLL_WAIT_SECONDS}`);
      }
      return v;
    })(),
    pollIdleTimeoutMs: integer('pollIdleTimeoutMs', options.pollIdleTimeoutMs, 60_000, 1, 86_400_000),
    quarantine: {
      queueLimitBytes,
      dropQueueBytes: integer(
        'quarantine.dropQueueBytes',
        q.dropQueueBytes,
        Math.max(DEFAULT_DROP_QUEUE_BYTES, 16 * queueLimitBytes),
        Math.max(1, queueLimitBytes),
        2 ** 46,
      ),
      overflowsToQuarantine: integer(
        'quarantine.overflowsToQuarantine',
        q.overflowsToQuarantine,
        3,
        1,
        1_000_000,
      ),
      windowMs: integer('quarantine.windowMs', q.windowMs, 10_000, 1, 86_400_000),
      durationMs: integer('quarantine.durationMs', q.durationMs, 30_000, 1, 86_400_000),
      lowTierServices: [...lowTier],
      healthyMs: integer('quarantine.healthyMs', q.healthyMs, 5000, 1, 86_400_000),
    },
    static: normaliseStatic(options.static),
    log: options.log ?? (() => {}),
    wallClock: options.wallClock ?? Date.now,
  };
}
