export type { EventHandler, RealtimeClient, RealtimeEventMap } from './client';
export { createRealtime } from './client';
export type { Clock, RandomSource, WallClock } from './clock';
export type { GetToken } from './connection/token-provider';
export type { RealtimeErrorCode } from './errors';
export { isRealtimeError, RealtimeError } from './errors';
export { flagsFromEnv } from './flags/env-flags';
export type { Alert, AlertLevel, AlertName, AlertThresholds } from './observability/alerts';
export type { RollbackThresholds } from './observability/rollback-guard';
export type { SloName, SloReport, SloResult, SloTargets } from './observability/slo';
export type { SliReport } from './observability/telemetry-payload';
export { MUTATION_ID_HEADER, newMutationId, withMutationId } from './optimistic/mutation-header';
export type {
  MutationCancelReason,
  MutationOutcome,
  MutationStatus,
  TrackedMutation,
  TrackOptions,
} from './optimistic/tracked-mutation';
export type {
  LeaderStrategy,
  RealtimeOptions,
  RealtimePlatform,
  TokenResult,
  TransportOption,
} from './options';
export { decodeCursor, encodeCursor } from './protocol/cursor';
export type { Cursor, RealtimeEvent } from './protocol/schemas';
export type {
  CircuitState,
  LeaderInfo,
  RealtimeCounters,
  RealtimeSli,
  RealtimeState,
  RealtimeStatus,
  ResolvedFlags,
} from './state';
export { longPollTransport, sseTransport, websocketTransport } from './transports/builtins';
export type { LongPollTransportOptions } from './transports/long-poll';
export type { SseTransportOptions } from './transports/sse';
export type {
  Transport,
  TransportCloseReason,
  TransportConnection,
  TransportContext,
  UpdateResult,
} from './transports/types';
export type {
  WebSocketConstructorLike,
  WebSocketEventLike,
  WebSocketLike,
  WebSocketTransportOptions,
} from './transports/websocket';
