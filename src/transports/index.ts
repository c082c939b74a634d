// The factories are the lazy ones of builtins.ts: the modules' own take the
// core's kit as well (kit.ts).
export { longPollTransport, sseTransport, websocketTransport } from './builtins';
export {
  resolveTransports,
  TransportChain,
  type TransportName,
  type TransportPlatform,
} from './fallback';
export { DEFAULT_POLL_WAIT_SECONDS, type LongPollTransportOptions } from './long-poll';
export type { SseTransportOptions } from './sse';
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
export type {
  WebSocketConstructorLike,
  WebSocketEventLike,
  WebSocketLike,
  WebSocketTransportOptions,
} from './websocket';
