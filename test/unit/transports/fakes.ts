import { vi } from 'vitest';
import type {
  Transport,
  TransportCloseReason,
  TransportConnection,
  TransportContext,
} from '../../../src/transports/types';
import type { WebSocketEventLike } from '../../../src/transports/websocket';

/** A context whose callbacks record what they got. */
export interface RecordingContext extends TransportContext {
  frames: Array<string | object>;
  closes: TransportCloseReason[];
  abort: AbortController;
}

export function recordingContext(overrides: Partial<TransportContext> = {}): RecordingContext {
  const abort = new AbortController();
  const frames: Array<string | object> = [];
  const closes: TransportCloseReason[] = [];
  return {
    url: 'http://127.0.0.1:9/v2/realtime',
    token: 'tok',
    services: ['tasks', 'finance'],
    propertyIds: ['p1'],
    cursor: { tasks: 5 },
    onFrame: (frame) => frames.push(frame),
    onClose: (reason) => closes.push(reason),
    signal: abort.signal,
    ...overrides,
    frames,
    closes,
    abort,
  };
}

type Listener = (event: WebSocketEventLike) => void;

/** A WebSocket the test drives by hand: `serverOpen`, `serverSend`, `serverClose`, `fail`. */
export class FakeWebSocket {
  readyState = 0;
  binaryType = 'blob';
  readonly sent: string[] = [];
  closedWith: number | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
    this.sent.push(data);
  }

  close(code?: number): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 2;
    // A real socket reports its close later, after the closing handshake.
    queueMicrotask(() => this.serverClose(code ?? 1005));
  }

  serverOpen(): void {
    this.readyState = 1;
    this.emit({ type: 'open' });
  }

  serverSend(data: unknown): void {
    this.emit({ type: 'message', data });
  }

  serverClose(code: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit({ type: 'close', code });
  }

  fail(): void {
    this.emit({ type: 'error' });
  }

  sentFrames(): unknown[] {
    return this.sent.map((text) => JSON.parse(text));
  }

  private emit(event: WebSocketEventLike): void {
    for (const listener of this.listeners.get(event.type) ?? []) listener(event);
  }
}

/** A FakeWebSocket constructor that remembers the sockets it made. */
export function fakeWebSocketClass(): { WebSocket: typeof FakeWebSocket; sockets: FakeWebSocket[] } {
  const sockets: FakeWebSocket[] = [];
  class RecordingWebSocket extends FakeWebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: RecordingWebSocket, sockets };
}

/** Lets queued microtasks and already-settled promises run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** A `fetch` stub that answers from a queue of handlers and records every request. */
export interface FetchCall {
  url: string;
  init: RequestInit;
  headers: Headers;
  signal: AbortSignal | undefined;
}

export function scriptedFetch(handler: (call: FetchCall, index: number) => Response | Promise<Response>): {
  fetch: typeof fetch;
  calls: FetchCall[];
} {
  const calls: FetchCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const call: FetchCall = {
      url: String(input),
      init,
      headers: new Headers(init.headers),
      signal: init.signal ?? undefined,
    };
    calls.push(call);
    return handler(call, calls.length - 1);
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

/** A Response whose body the test writes to chunk by chunk. */
export function streamingResponse(
  init: ResponseInit = { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
): { response: Response; write(text: string | Uint8Array): void; end(): void; error(reason: unknown): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  return {
    response: new Response(body, init),
    write: (chunk) => controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk),
    end: () => controller.close(),
    error: (reason) => controller.error(reason),
  };
}

/** Rejects like fetch does when its signal aborts, and never answers otherwise. */
export function pendingUntilAborted(signal: AbortSignal | undefined): Promise<Response> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(new DOMException('aborted', 'AbortError'));
    signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), {
      once: true,
    });
  });
}

/** A JSON answer of the backend (200 unless said). */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/**
 * The long-poll tests' welcome. Its heartbeat is not below the 25 s the polls
 * wait: the transport passes it on as it is.
 */
export const POLL_WELCOME = {
  type: 'welcome',
  connectionId: 'lp-1',
  serverTime: 1,
  heartbeatMs: 30_000,
  cursor: { tasks: 5 },
};

/** A transport that answers each connect with the next scripted outcome (the last one repeats). */
export function scripted(
  name: string,
  outcomes: Array<'ok' | unknown> = ['ok'],
): Transport & { attempts: number } {
  const transport = {
    name,
    attempts: 0,
    connect: async (): Promise<TransportConnection> => {
      const outcome = outcomes[Math.min(transport.attempts, outcomes.length - 1)];
      transport.attempts++;
      if (outcome === 'ok') return { update: async () => {}, close: () => {} };
      throw outcome;
    },
  };
  return transport;
}
