import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeCursor } from '../protocol/cursor';
import type { ErrorFrame, ServerFrame } from '../protocol/schemas';
import type { FrameChannel } from './connection';
import { DelayedWriter } from './delayed-writer';
import {
  CORS_HEADERS,
  HttpError,
  originOf,
  parseCursorParam,
  parsePropertyIdsParam,
  parseServicesParam,
  requireIdentity,
  sendError,
} from './http-util';
import type { RealtimeHub } from './hub';

/** One SSE response as a {@link FrameChannel}: `event:`, `id:` (batches), `data:`. */
export class SseChannel implements FrameChannel {
  constructor(
    private readonly res: ServerResponse,
    private readonly writer: DelayedWriter,
  ) {}

  writeFrame(frame: ServerFrame, json: string, sseId?: string): void {
    const id = sseId === undefined ? '' : `id: ${sseId}\n`;
    this.write(`event: ${frame.type}\n${id}data: ${json}\n\n`);
  }

  // SSE ends a message at a blank line, so raw text with line breaks is sent
  // as several `data:` lines, which a reader joins back with "\n".
  writeRaw(text: string): void {
    const lines = text.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
    this.write(`${lines.join('\n')}\n\n`);
  }

  queuedBytes(): number {
    return this.res.writableLength;
  }

  closeWithError(frame: ErrorFrame): void {
    this.writeFrame(frame, JSON.stringify(frame));
    this.writer.run(() => {
      if (!this.res.writableEnded) this.res.end();
    });
  }

  destroy(): void {
    this.writer.cancel();
    if (this.res.socket) this.res.socket.destroy();
    else this.res.destroy();
  }

  private write(text: string): void {
    this.writer.run(() => {
      if (!this.res.writableEnded && !this.res.destroyed) this.res.write(text);
    });
  }
}

/**
 * `GET /stream` as Server-Sent Events. Everything that can refuse the stream
 * (auth, bad parameters, quota) is answered as JSON with a status before the
 * stream starts, so the client's fetch sees a plain HTTP error. The client's
 * cursor comes from the `cursor` query parameter, else from `Last-Event-ID`
 * (a bad header value is ignored: browsers and proxies replay it as is).
 */
export async function handleSseStream(
  hub: RealtimeHub,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): Promise<void> {
  const auth = requireIdentity(req, (token) => hub.authenticate(token));
  const services = parseServicesParam(query.get('services'));
  const propertyIds = parsePropertyIdsParam(query.get('propertyIds'));
  const lastEventId = req.headers['last-event-id'];
  const clientCursor =
    parseCursorParam(query.get('cursor')) ??
    (typeof lastEventId === 'string' ? decodeCursor(lastEventId.trim()) : undefined);
  const origin = originOf(req);

  await hub.delayAnswer();
  if (res.destroyed) return;
  // The quota is counted after `faults.delay`, right before the stream is
  // registered: checked before it, every stream that arrived within one delay
  // was measured against the same count and all of them got through. Answered
  // here, not thrown, so the refusal is not delayed a second time.
  const overloaded = hub.checkQuota(origin);
  if (overloaded) {
    sendError(res, new HttpError(429, 'overloaded', overloaded.message, overloaded.retryAfterMs));
    return;
  }
  res.writeHead(200, {
    ...CORS_HEADERS,
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    // Tells nginx-style proxies not to buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  req.socket.setTimeout(0);

  const writer = new DelayedWriter(() => hub.delayMs, hub.clock);
  const { connection } = hub.open({
    transport: 'sse',
    identity: auth.identity,
    token: auth.token,
    tokenExpiresAt: auth.expiresAt,
    origin,
    services,
    propertyIds,
    clientCursor,
    channel: new SseChannel(res, writer),
  });
  res.on('close', () => {
    writer.cancel();
    hub.remove(connection);
  });
}
