export type { EventHandler, RealtimeClient, RealtimeEventMap } from './client';
export { createRealtime } from './client';
export type { Clock, RandomSource, WallClock } from './clock';
export type { RealtimeErrorCode } from './errors';
export { isRealtimeError, RealtimeError } from './errors';
export type {
  LeaderStrategy,
  RealtimeOptions,
  RealtimePlatform,
  TokenResult,
  TransportOption,
} from './options';
export { decodeCursor, encodeCursor } from './protocol/cursor';
export type { Cursor, RealtimeEvent } from './protocol/schemas';
export type { CircuitState, RealtimeCounters, RealtimeState, RealtimeStatus, ResolvedFlags } from './state';
export { longPollTransport, sseTransport, websocketTransport } from './transports/index';
export type {
  Transport,
  TransportCloseReason,
  TransportConnection,
  TransportContext,
} from './transports/types';
