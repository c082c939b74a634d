import type { LongPollTransportOptions } from './long-poll';
import type { SseTransportOptions } from './sse';
import type { WebSocketTransportOptions } from './websocket';

// The built-ins' option checks, apart from their code: the public factories
// (builtins.ts) check options when called, loudly, and load the transport's
// code only on its first connect.

export function validateWebSocketOptions(options: WebSocketTransportOptions): void {
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') {
    throw new RangeError(`WebSocket must be a constructor, got ${String(options.WebSocket)}`);
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || !/^\/?[^?#]+$/.test(options.path))) {
    throw new RangeError(
      `path must be a URL path without query or fragment, got ${JSON.stringify(options.path)}`,
    );
  }
}

export function validateSseOptions(options: SseTransportOptions): void {
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new RangeError(`fetch must be a function, got ${String(options.fetch)}`);
  }
  const max = options.maxFrameChars;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
    throw new RangeError(`maxFrameChars must be a positive integer, got ${String(max)}`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new RangeError(`now must be a function, got ${String(options.now)}`);
  }
}

export function validateLongPollOptions(options: LongPollTransportOptions): void {
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new RangeError(`fetch must be a function, got ${String(options.fetch)}`);
  }
  const wait = options.waitSeconds;
  if (wait !== undefined && (!Number.isInteger(wait) || wait < 0 || wait > 3600)) {
    throw new RangeError(`waitSeconds must be an integer from 0 to 3600, got ${String(wait)}`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new RangeError(`now must be a function, got ${String(options.now)}`);
  }
}
