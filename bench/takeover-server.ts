/**
 * The takeover bench's dev server, run in a `node:worker_threads` Worker
 * (bench/takeover-server.worker.ts) rather than on the bench's own thread:
 * Playwright's work on that thread stalls its event loop for tens of ms while
 * a tab closes, and a server sharing the loop would welcome the next
 * connection late by as much, a harness artifact that no real backend has.
 *
 * The worker stamps every connection it welcomes on its own clock
 * (`performance.timeOrigin + performance.now()`, as the bench and the pages)
 * and posts the stamp here, so the time of a welcome does not depend on when
 * this thread gets to read it. Everything else (publish, metrics,
 * connections) is a message and its reply.
 *
 * bench/run.mjs bundles the worker in the same esbuild build as the bench, so
 * the property names of the messages are mangled alike on both sides.
 */
import { Worker } from 'node:worker_threads';
import type {
  DevConnectionInfo,
  DevServerMetrics,
  DevServerOptions,
  PublishInput,
} from '../src/devserver/index';

/** What the worker passes to `startDevServer` (no functions: it crosses threads). */
export type ServerThreadOptions = Pick<DevServerOptions, 'batchWindowMs' | 'static'>;

/** The calls the worker answers: their arguments and what each resolves with. */
export interface ServerCalls {
  /** Publishes `events` in order to `orgId`; resolves with the last one's seq. */
  publish: { args: { orgId: string; events: PublishInput[] }; result: number };
  metrics: { args: Record<string, never>; result: DevServerMetrics };
  connections: { args: Record<string, never>; result: DevConnectionInfo[] };
  /** The worker's clock, `performance.timeOrigin + performance.now()`. */
  now: { args: Record<string, never>; result: number };
  close: { args: Record<string, never>; result: null };
}

export type ServerCall = keyof ServerCalls;

/** Bench → worker. */
export type ServerRequest = {
  [K in ServerCall]: { id: number; call: K; args: ServerCalls[K]['args'] };
}[ServerCall];

/** A connection the server welcomed, stamped on the worker's clock when its `welcome` was sent. */
export interface Welcome {
  orgId: string;
  connectionId: string;
  at: number;
}

/** Worker → bench. */
export type ServerMessage =
  | { kind: 'ready'; origin: string }
  | ({ kind: 'welcome' } & Welcome)
  | { kind: 'reply'; id: number; value: unknown }
  | { kind: 'failed'; id: number; message: string };

/** A call the worker could not answer, or the worker itself failing. */
export class ServerThreadError extends Error {
  override name = 'ServerThreadError';
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface WelcomeWaiter {
  orgId: string;
  after: number;
  resolve: (welcome: Welcome) => void;
  reject: (error: Error) => void;
}

/** The bench's handle on the dev server in its worker. */
export class ServerThread {
  /** Every connection welcomed so far, in order. */
  readonly welcomes: Welcome[] = [];
  private readonly pending = new Map<number, Pending>();
  private waiters: WelcomeWaiter[] = [];
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly origin: string,
  ) {
    worker.on('message', (message: ServerMessage) => this.receive(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new ServerThreadError(`dev server worker exited (${code})`)));
  }

  /** Starts the worker bundle (next to this bench's bundle) and waits until its server listens. */
  static start(options: ServerThreadOptions): Promise<ServerThread> {
    // Relative to the bundle this runs from, .tmp/bench/ (bench/run.mjs builds both there).
    const worker = new Worker(new URL('./takeover-server.worker.mjs', import.meta.url), {
      workerData: options,
    });
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      worker.once('error', failed);
      worker.once('message', (message: ServerMessage) => {
        worker.off('error', failed);
        if (message.kind === 'ready') resolve(new ServerThread(worker, message.origin));
        else reject(new ServerThreadError(`dev server worker sent ${message.kind} before ready`));
      });
    });
  }

  publish(orgId: string, events: PublishInput[]): Promise<number> {
    return this.call('publish', { orgId, events });
  }

  metrics(): Promise<DevServerMetrics> {
    return this.call('metrics', {});
  }

  connections(): Promise<DevConnectionInfo[]> {
    return this.call('connections', {});
  }

  /** The worker's clock: for the offset between it and the bench's. */
  now(): Promise<number> {
    return this.call('now', {});
  }

  /**
   * The first connection of `orgId` welcomed with a stamp after `after`
   * (the bench's clock, which the worker's shares); rejects after `timeoutMs`.
   */
  nextWelcome(orgId: string, after: number, timeoutMs = 10_000): Promise<Welcome> {
    const seen = this.welcomes.find((w) => w.orgId === orgId && w.at > after);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ServerThreadError(`no connection of ${orgId} welcomed within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle =
        <T>(done: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          done(value);
        };
      const waiter: WelcomeWaiter = { orgId, after, resolve: settle(resolve), reject: settle(reject) };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.failure === undefined) await this.call('close', {});
    this.failure ??= new ServerThreadError('dev server worker closed');
    await this.worker.terminate();
  }

  private call<K extends ServerCall>(
    call: K,
    args: ServerCalls[K]['args'],
  ): Promise<ServerCalls[K]['result']> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // The reply's value is what the worker's handler of `call` returned.
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, call, args } as ServerRequest);
    });
  }

  private receive(message: ServerMessage): void {
    switch (message.kind) {
      case 'welcome': {
        const welcome: Welcome = { orgId: message.orgId, connectionId: message.connectionId, at: message.at };
        this.welcomes.push(welcome);
        const due = this.waiters.filter((w) => w.orgId === welcome.orgId && welcome.at > w.after);
        this.waiters = this.waiters.filter((w) => !due.includes(w));
        for (const waiter of due) waiter.resolve(welcome);
        return;
      }
      case 'reply':
      case 'failed': {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.kind === 'reply') pending?.resolve(message.value);
        else pending?.reject(new ServerThreadError(message.message));
        return;
      }
      case 'ready':
        return;
    }
  }

  /** The worker died: every call waiting for it fails, and so does every later one. */
  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters = [];
  }
}
