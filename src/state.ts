import type { Alert } from './observability/alerts';
import type { SloReport } from './observability/slo';
import type { Cursor } from './protocol/schemas';

/** Connection status of the client (of the browser's one connection, in every tab). */
export type RealtimeStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disabled' | 'closed';

/** Circuit breaker as shown in the state. */
export interface CircuitState {
  state: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  openedAt?: number;
}

/** Flags after defaults are applied. */
export interface ResolvedFlags {
  /** Master switch; `false` turns realtime off (`disabledReason: 'disabled'`). Default `true`. */
  enabled: boolean;
  /** Kill switch, wins over every other flag (`'emergency_disable'`). Default `false`. */
  emergencyDisable: boolean;
  /** Orgs for which realtime is off (`'org_disabled'`). Default `[]`. */
  disabledOrgs: string[];
  /** 0..100: share of orgs in the rollout, by a stable bucket of the org id (`'not_in_rollout'`). Default `100`. */
  rolloutPercent: number;
  /** The connection runs and SLIs are measured, but no handler is called. Default `false`. */
  shadowMode: boolean;
  /** Services that are not dispatched; the others keep working. Default `[]`. */
  disabledServices: string[];
}

/** The election as this tab sees it. */
export interface LeaderInfo {
  /** Times this tab became leader. */
  elections: number;
  /** Elections this tab won in the last hour (the leader-churn SLI). */
  electionsPerHour: number;
  /**
   * The last takeover this tab made, in ms: from winning the election to its
   * own connection's welcome. With Web Locks the win is the instant the old
   * leader died; with the storage lease it comes up to `takeoverMs` later.
   */
  lastTakeoverMs?: number;
  /** Other tabs sharing this connection, as far as this tab knows. */
  peers: number;
}

/** Counters that are not per service. */
export interface RealtimeCounters {
  /** Frames from the server dropped because they were not valid frames of the protocol. */
  invalidFrames: number;
  /** Batches in which a gap was found (the stream was replayed from the cursor). */
  gaps: number;
  /** `reset` frames received (each one reached the app as a `resync`). */
  resyncs: number;
  /** Connections welcomed after the first one. */
  reconnects: number;
  /** Connection attempts that failed. */
  failedConnects: number;
  /** Handlers that threw. */
  handlerErrors: number;
  /** Messages from other tabs that were not valid and were dropped (a relayed frame this tab cannot read among them). */
  invalidTabMessages: number;
  /** Optional parts (SLI reporter, flags poller, cursor store) whose code could not be loaded. */
  lazyLoadFailures: number;
  /** Polls of `flagsUrl` that failed or whose document was refused (the last good flags kept). */
  flagsUrlFailures: number;
}

/**
 * A snapshot of everything the client knows, as `rt.getState()` and
 * `window.__realtimeState()` return it. It never holds a token.
 */
export interface RealtimeState {
  status: RealtimeStatus;
  disabledReason?: string;
  tabId: string;
  isLeader: boolean;
  leaderTabId?: string;
  electionStrategy: 'locks' | 'storage' | 'none';
  leader: LeaderInfo;
  transport?: string;
  connectionId?: string;
  services: string[];
  propertyFilter: string | null;
  cursor: Cursor;
  circuit: CircuitState;
  lastSuccessAt?: number;
  /** Last error the connection met, as `code: message`. */
  lastError?: string;
  byServiceP95LatencyMs: Record<string, number>;
  byServiceLastEventAt: Record<string, number>;
  byServiceDelivered: Record<string, number>;
  byServiceSuppressed: Record<string, number>;
  byServiceReconnects: Record<string, number>;
  counters: RealtimeCounters;
  flags: ResolvedFlags;
  /** This session's SLIs: whether it reports them, and the figures of now. */
  sli: RealtimeSli;
  /** The SLO targets (the `slo` option over its defaults) against this tab's figures (`ok` undefined: no data yet). */
  slo: Partial<SloReport>;
  /** Alerts an on-call engineer would be paged for, as this tab sees them. */
  alerts: readonly Alert[];
  /** The auto-rollback guard: `tripped` turned realtime off (status `disabled`, reason `auto_rollback`). */
  rollback: {
    state: 'ok' | 'degraded' | 'tripped';
    reason?: string;
    detail?: string;
    /** The window's error rate when `state` last changed; not refreshed while it stays the same. */
    errorRate?: number;
  };
}

/** The SLI figures in the state (the telemetry report carries the full sketches). */
export interface RealtimeSli {
  /** This session was drawn to send reports. */
  sampled: boolean;
  /**
   * This tab measures SLIs: it was sampled, `telemetry.measure` is
   * `'always'`, or something listens to the `sli` event. Until then (and in
   * most sessions, never) the figures below, `slo`, `alerts` and
   * `byServiceP95LatencyMs` stay at their empty start values, and the code
   * that measures is not even downloaded.
   */
  measured: boolean;
  reportsSent: number;
  deliveryP50Ms?: number;
  deliveryP99Ms?: number;
  takeoverP95Ms?: number;
  mutationToVisibleP95Ms?: number;
  electionsPerHour: number;
  circuitOpenPercent: number;
  optimisticTimeoutRate: number;
  droppedLast5Min: number;
}

/** The state of a client just created: idle, nothing counted, nothing measured. */
export function initialState({
  sampled,
  ...tab
}: {
  tabId: string;
  isLeader: boolean;
  electionStrategy: RealtimeState['electionStrategy'];
  flags: ResolvedFlags;
  /** This session sends SLI reports. */
  sampled: boolean;
}): RealtimeState {
  return {
    status: 'idle',
    // The tab's own fields: tabId, isLeader, electionStrategy and flags.
    ...tab,
    leader: { elections: 0, electionsPerHour: 0, peers: 0 },
    services: [],
    propertyFilter: null,
    cursor: {},
    circuit: { state: 'closed', consecutiveFailures: 0 },
    byServiceP95LatencyMs: {},
    byServiceLastEventAt: {},
    byServiceDelivered: {},
    byServiceSuppressed: {},
    byServiceReconnects: {},
    counters: {
      invalidFrames: 0,
      gaps: 0,
      resyncs: 0,
      reconnects: 0,
      failedConnects: 0,
      handlerErrors: 0,
      invalidTabMessages: 0,
      lazyLoadFailures: 0,
      flagsUrlFailures: 0,
    },
    sli: {
      sampled,
      measured: false,
      reportsSent: 0,
      electionsPerHour: 0,
      circuitOpenPercent: 0,
      optimisticTimeoutRate: 0,
      droppedLast5Min: 0,
    },
    slo: {},
    alerts: [],
    rollback: { state: 'ok' },
  };
}
