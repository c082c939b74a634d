import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { type ClientFrame, clientFrameSchema, type ErrorFrame, type ServerFrame } from '../protocol/schemas';
import { CLOSE_CODES, type Connection, type FrameChannel } from './connection';
import { DelayedWriter } from './delayed-writer';
import { originOf, splitTarget } from './http-util';
import type { RealtimeHub } from './hub';

/** `WebSocket.OPEN` without needing the class at run time. */
const WS_OPEN = 1;

/** Largest client frame accepted; `ws` closes the socket (1009) above it. */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

/** The `ws` server class, loaded lazily because `ws` is an optional peer dependency. */
export type WebSocketServerClass = typeof WebSocketServer;

/** One WebSocket as a {@link FrameChannel}. */
export class WebSocketChannel implements FrameChannel {
  constructor(
    private readonly ws: WebSocket,
    private readonly writer: DelayedWriter,
  ) {}

  writeFrame(_frame: ServerFrame, json: string): void {
    this.writeRaw(json);
  }

  writeRaw(text: string): void {
    this.writer.run(() => {
      if (this.ws.readyState === WS_OPEN) this.ws.send(text);
    });
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  closeWithError(frame: ErrorFrame, closeCode: number): void {
    this.writeRaw(JSON.stringify(frame));
    this.writer.run(() => this.ws.close(closeCode, frame.code));
  }

  destroy(): void {
    this.writer.cancel();
    this.ws.terminate();
  }
}

function describeIssue(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join('.') || 'frame'}: ${issue.message}` : 'invalid frame';
}

/**
 * WebSocket side of the dev server: the `upgrade` handler and the life of
 * one socket. Browsers cannot set headers on a WebSocket, so a socket is
 * anonymous until its first frame, `hello { token, services, propertyIds,
 * cursor }`; without one within `helloTimeoutMs` it is closed (4408). Client
 * frames that are not valid (binary, bad JSON, wrong shape) are counted and
 * answered with `error bad_request`, and the socket stays open: a client bug
 * should not cost the user their stream.
 */
export class WebSocketEndpoint {
  private readonly wss: WebSocketServer;

  constructor(
    private readonly hub: RealtimeHub,
    WebSocketServerCtor: WebSocketServerClass,
  ) {
    this.wss = new WebSocketServerCtor({
      noServer: true,
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      perMessageDeflate: false,
    });
  }

  /** The http server's `upgrade` listener. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.hub.counters.requestsTotal++;
    socket.on('error', () => socket.destroy());
    let pathname: string;
    try {
      pathname = splitTarget(req.url).pathname;
    } catch {
      refuseUpgrade(socket, '400 Bad Request');
      return;
    }
    if (pathname !== `${this.hub.options.basePath}/stream`) {
      refuseUpgrade(socket, '404 Not Found');
      return;
    }
    // As a proxy that does not pass upgrades would: a plain HTTP refusal.
    if (this.hub.refuseWebSocket) {
      refuseUpgrade(socket, '403 Forbidden');
      return;
    }
    await this.hub.delayAnswer();
    if (socket.destroyed) return;
    // As a proxy that passes the upgrade and then holds every frame: the socket
    // opens and stays silent (no hello timeout either); `terminateAll` ends it.
    const silent = this.hub.silenceWebSocket;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (!silent) this.accept(ws, req);
    });
  }

  /** Ends every socket, including those still waiting for `hello`. */
  terminateAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const hub = this.hub;
    const origin = originOf(req);
    const writer = new DelayedWriter(() => hub.delayMs, hub.clock);
    const channel = new WebSocketChannel(ws, writer);
    let connection: Connection | undefined;
    let refused = false;

    const refuse = (frame: ErrorFrame, closeCode: number): void => {
      refused = true;
      channel.closeWithError(frame, closeCode);
    };
    const badRequest = (message: string): void => {
      hub.counters.invalidClientFrames++;
      const frame: ErrorFrame = { type: 'error', code: 'bad_request', message };
      if (connection) connection.send(frame);
      else channel.writeFrame(frame, JSON.stringify(frame));
    };

    const helloTimer = hub.clock.setTimeout(() => {
      if (!connection && !refused) {
        refuse(
          { type: 'error', code: 'bad_request', message: 'no hello frame in time' },
          CLOSE_CODES.helloTimeout,
        );
      }
    }, hub.options.helloTimeoutMs);

    const onHello = (frame: Extract<ClientFrame, { type: 'hello' }>): void => {
      hub.clock.clearTimeout(helloTimer);
      const auth = hub.authenticate(frame.token);
      if (!auth.ok) {
        const closeCode = auth.code === 'forbidden' ? CLOSE_CODES.forbidden : CLOSE_CODES.unauthorized;
        refuse({ type: 'error', code: auth.code, message: `token refused: ${auth.code}` }, closeCode);
        return;
      }
      const overloaded = hub.checkQuota(origin);
      if (overloaded) {
        refuse(overloaded, CLOSE_CODES.overloaded);
        return;
      }
      connection = hub.open({
        transport: 'websocket',
        identity: auth.identity,
        token: frame.token,
        tokenExpiresAt: auth.expiresAt,
        origin,
        services: frame.services,
        propertyIds: frame.propertyIds,
        clientCursor: frame.cursor,
        channel,
      }).connection;
    };

    const onMessage = (data: RawData, isBinary: boolean): void => {
      if (refused || ws.readyState !== WS_OPEN) return;
      if (isBinary) {
        badRequest('binary frames are not part of the protocol');
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(rawToText(data));
      } catch {
        badRequest('frame is not JSON');
        return;
      }
      const parsed = clientFrameSchema.safeParse(value);
      if (!parsed.success) {
        badRequest(describeIssue(parsed.error));
        return;
      }
      const frame = parsed.data;
      if (!connection) {
        if (frame.type === 'hello') onHello(frame);
        else badRequest('the first frame must be hello');
        return;
      }
      if (frame.type === 'hello') badRequest('hello was already received');
      else if (frame.type === 'update') hub.updateSubscription(connection, frame.services, frame.propertyIds);
      else hub.refreshToken(connection, frame.token);
    };

    ws.on('message', (data, isBinary) => {
      try {
        onMessage(data, isBinary);
      } catch (error) {
        hub.options.log(`websocket message handler failed: ${String(error)}`);
        // A `verifyToken` that throws fails the hello after its timer was
        // cleared: left alone, the socket would stay open with no stream for
        // good, and the client wait for an answer that never comes.
        if (!connection && !refused) {
          refuse({ type: 'error', code: 'server_error', message: 'internal error' }, CLOSE_CODES.serverError);
        }
      }
    });
    ws.on('error', (error) => hub.options.log(`websocket error: ${error.message}`));
    ws.on('close', () => {
      hub.clock.clearTimeout(helloTimer);
      writer.cancel();
      if (connection) hub.remove(connection);
    });
  }
}

function rawToText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function refuseUpgrade(socket: Duplex, status: string): void {
  if (socket.destroyed) return;
  // Destroyed once the refusal is flushed, so the client reads the status
  // line instead of a bare reset.
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}
