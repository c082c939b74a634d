export {
  type FallbackInfo,
  resolveTransports,
  TransportChain,
  type TransportChainOptions,
  type TransportName,
  type TransportPlatform,
} from './fallback';
export { DEFAULT_POLL_WAIT_SECONDS, type LongPollTransportOptions, longPollTransport } from './long-poll';
export { type SseTransportOptions, sseTransport } from './sse';
export {
  DEFAULT_SSE_MAX_LINE_CHARS,
  type SseMessage,
  type SseOverflow,
  SseParser,
  type SseParserOptions,
} from './sse-parser';
export type {
  Transport,
  TransportCloseReason,
  TransportConnection,
  TransportContext,
  UpdateResult,
} from './types';
export {
  type WebSocketConstructorLike,
  type WebSocketEventLike,
  type WebSocketLike,
  type WebSocketTransportOptions,
  websocketTransport,
} from './websocket';
