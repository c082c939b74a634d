import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RealtimeEvent } from '../protocol/schemas';
import { createFaults } from './faults';
import { createRequestHandler } from './http-router';
import { RealtimeHub } from './hub';
import { LongPollChannel } from './long-poll';
import type { ResolvedDevServerOptions } from './options';
import type { DevConnectionInfo, DevServer, DevServerFaults, DevServerMetrics, PublishInput } from './types';
import { WebSocketEndpoint, type WebSocketServerClass } from './websocket';

/** How long `start()` keeps retrying a port that is still in use (a restart racing the OS). */
const ADDRESS_IN_USE_RETRY_MS = 2000;
const ADDRESS_IN_USE_STEP_MS = 50;

/** The status of a request Node could not parse, as Node's own default answer would give it. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

async function listenWithRetry(server: Server, port: number, host: string): Promise<void> {
  const deadline = Date.now() + ADDRESS_IN_USE_RETRY_MS;
  for (;;) {
    try {
      await listenOnce(server, port, host);
      return;
    } catch (error) {
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!inUse || port === 0 || Date.now() >= deadline) throw error;
      await sleep(ADDRESS_IN_USE_STEP_MS);
    }
  }
}

/**
 * The {@link DevServer}: an http server (re)created by each `start()`
 * around a hub that outlives it, so events and seqs survive
 * `stop()`/`start()`. Lifecycle calls are serialised: a `stop()` issued
 * during a `start()` runs after it.
 */
export class DevServerInstance implements DevServer {
  readonly faults: DevServerFaults;
  private readonly hub: RealtimeHub;
  private readonly websocket: WebSocketEndpoint;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort: number;
  private closedForGood = false;
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ResolvedDevServerOptions,
    WebSocketServerCtor: WebSocketServerClass,
  ) {
    this.hub = new RealtimeHub(options);
    this.hub.onPullWake = (connection) => {
      if (connection.channel instanceof LongPollChannel) connection.channel.wake();
    };
    this.websocket = new WebSocketEndpoint(this.hub, WebSocketServerCtor);
    this.boundPort = options.port;
    this.faults = createFaults(this.hub, () => this.websocket.terminateAll());
  }

  get port(): number {
    return this.boundPort;
  }

  get origin(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.boundPort}`;
  }

  get url(): string {
    return `${this.origin}${this.options.basePath}`;
  }

  get telemetry(): unknown[] {
    return this.hub.telemetry;
  }

  publish(orgId: string, event: PublishInput): RealtimeEvent {
    return this.hub.publish(orgId, event);
  }

  issueToken(
    orgId: string,
    userId: string,
    options?: { ttlMs?: number },
  ): { token: string; expiresAt?: number } {
    return this.hub.tokens.issue(orgId, userId, options?.ttlMs);
  }

  connections(): DevConnectionInfo[] {
    return this.hub.registry.all().map((connection) => connection.info());
  }

  metrics(): DevServerMetrics {
    return this.hub.metrics();
  }

  start(): Promise<void> {
    return this.serialise(() => this.listen());
  }

  stop(): Promise<void> {
    return this.serialise(() => this.shutdown());
  }

  restart(options: { downMs?: number; wipe?: boolean } = {}): Promise<void> {
    const downMs = options.downMs ?? 0;
    if (!Number.isFinite(downMs) || downMs < 0) {
      return Promise.reject(new RangeError(`restart: downMs must be a finite number >= 0, got ${downMs}`));
    }
    return this.serialise(async () => {
      await this.shutdown();
      if (options.wipe) this.hub.wipe();
      if (downMs > 0) await sleep(downMs);
      await this.listen();
    });
  }

  close(): Promise<void> {
    return this.serialise(async () => {
      this.closedForGood = true;
      await this.shutdown();
    });
  }

  private serialise(step: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(step);
    this.lifecycle = next.catch(() => {});
    return next;
  }

  private async listen(): Promise<void> {
    if (this.closedForGood) throw new Error('dev server was closed; start a new one');
    if (this.server) return;
    const server = createServer(createRequestHandler(this.hub));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head: Buffer) => {
      this.websocket.handleUpgrade(req, socket, head).catch((error: unknown) => {
        this.options.log(`upgrade failed: ${String(error)}`);
        socket.destroy();
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      // Not while an answer already under way holds the socket (as Node's own
      // handler): a status line written into an SSE stream would corrupt it.
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
      if (socket.writable && !inFlight?.headersSent) {
        socket.end(
          `HTTP/1.1 ${clientErrorStatus(error.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      } else {
        socket.destroy();
      }
    });
    await listenWithRetry(server, this.boundPort, this.options.host);
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
    this.options.log(`listening on ${this.url}`);
  }

  // Keep-alive and upgraded sockets would keep `close()` waiting: every
  // socket is destroyed, not just the listener closed.
  private async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.hub.shutdown();
    this.websocket.terminateAll();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections?.();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
    this.options.log('stopped');
  }
}
