import { EventEmitter } from 'eventemitter3';
import { nanoid } from 'nanoid';
import { ExponentialBackoff } from './connection/backoff';
import { CircuitBreaker } from './connection/circuit-breaker';
import { ConnectionLoop } from './connection/connection-loop';
import { HeartbeatWatchdog } from './connection/heartbeat-watchdog';
import { watchPageLifecycle } from './connection/page-lifecycle';
import { TokenProvider } from './connection/token-provider';
import type { RealtimeError } from './errors';
import { gateReason } from './flags/gate';
import { type RealtimeOptions, type ResolvedOptions, resolveFlags, resolveOptions } from './options';
import { Dispatcher } from './pipeline/dispatcher';
import { EventPipeline } from './pipeline/event-pipeline';
import { type RealtimeEvent, serviceNameSchema } from './protocol/schemas';
import { initialCounters, type RealtimeState, type ResolvedFlags } from './state';
import { createStore, type Store } from './store';
import { resolveTransports, TransportChain } from './transports/fallback';

/** A handler of one service's events: a batch, in seq order, each event once. */
export type EventHandler = (events: RealtimeEvent[]) => void;

/** Payloads of the client's events. */
export interface RealtimeEventMap {
  statechange: [state: RealtimeState];
  /** This tab became leader (`true`) or stopped being leader (`false`). */
  leader: [isLeader: boolean];
  /** The server could not replay: re-fetch a snapshot of these services. */
  resync: [info: { services: string[]; reason: string }];
  /** A hole in the stream was found; it is being replayed. */
  gap: [info: { service: string; cursor: number; after: number }];
  /** Access was revoked; realtime stopped for good. */
  forbidden: [error: RealtimeError];
  /** Realtime turned itself off; keep or resume the non-realtime path. */
  fallback: [info: { reason: string }];
  /** A connection attempt failed or a live connection dropped. */
  disconnected: [info: { error: RealtimeError; willRetryInMs: number | undefined }];
  /** A subscriber threw; the others and the stream went on. */
  error: [error: unknown];
  sli: [report: Record<string, unknown>];
}

/** The client `createRealtime` returns. */
export interface RealtimeClient {
  /** Calls `handler` with every batch of `service`'s events; returns the unsubscribe function. */
  subscribe(service: string, handler: EventHandler): () => void;
  /** Narrows delivery to one property (or `null` for all); changes the live subscription in place. */
  setPropertyFilter(propertyId: string | null): void;
  /** Changes flags at run time (kill switch, rollout, shadow mode). */
  setFlags(flags: Partial<ResolvedFlags>): void;
  /** The current state snapshot; the same object until something changes. */
  getState(): RealtimeState;
  /** Listens to state changes; returns the function that stops listening. */
  subscribeState(listener: (state: RealtimeState) => void): () => void;
  on<E extends keyof RealtimeEventMap>(
    event: E,
    listener: (...args: RealtimeEventMap[E]) => void,
  ): () => void;
  off<E extends keyof RealtimeEventMap>(event: E, listener: (...args: RealtimeEventMap[E]) => void): void;
  /** Closes the connection and every listener; the client cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * Creates a realtime client. Nothing connects until the first `subscribe`;
 * the connection closes `idleGraceMs` after the last unsubscribe.
 */
export function createRealtime(options: RealtimeOptions): RealtimeClient {
  return new Client(resolveOptions(options));
}

class Client implements RealtimeClient {
  private readonly options: ResolvedOptions;
  private readonly store: Store<RealtimeState>;
  private readonly emitter = new EventEmitter();
  private readonly dispatcher: Dispatcher;
  private readonly pipeline: EventPipeline;
  private readonly breaker: CircuitBreaker;
  private readonly loop: ConnectionLoop;
  private readonly stopLifecycle: () => void;
  private idleTimer: unknown;
  private updateQueued = false;
  private closed = false;
  private welcomes = 0;
  private removeDevtools: (() => void) | undefined;

  constructor(options: ResolvedOptions) {
    this.options = options;
    const { clock, wallClock, random } = options.platform;

    this.store = createStore<RealtimeState>({
      status: 'idle',
      tabId: nanoid(),
      isLeader: true,
      electionStrategy: 'none',
      services: [],
      propertyFilter: null,
      cursor: {},
      circuit: { state: 'closed', consecutiveFailures: 0 },
      byServiceP95LatencyMs: {},
      byServiceLastEventAt: {},
      byServiceDelivered: {},
      byServiceSuppressed: {},
      byServiceReconnects: {},
      counters: initialCounters(),
      flags: options.flags,
      sli: { sampled: false },
    });
    this.store.subscribe((state) => this.emitter.emit('statechange', state));

    this.dispatcher = new Dispatcher({
      onHandlerError: (error) => {
        this.bumpCounter('handlerErrors');
        this.emitter.emit('error', error);
      },
    });
    this.applyFlagsToDispatcher(options.flags);

    this.pipeline = new EventPipeline(
      {
        onEvents: (service, events) => this.deliver(service, events),
        onGap: (gap) => {
          this.bumpCounter('gaps');
          this.emitter.emit('gap', gap);
          this.loop.requestReplay();
        },
        onResync: ({ services, reason }) => {
          this.bumpCounter('resyncs');
          this.store.setState({ cursor: this.pipeline.getCursor() });
          this.emitter.emit('resync', { services, reason });
        },
        onSuppressed: (service, count) => this.addSuppressed(service, count),
      },
      { dedupCapacity: options.dedupWindow },
    );

    this.breaker = new CircuitBreaker({ ...options.circuit, clock });
    this.breaker.onStateChange(() => this.store.setState({ circuit: this.circuitState() }));

    const platform = options.platform;
    this.loop = new ConnectionLoop({
      url: options.url,
      chain: new TransportChain(
        resolveTransports(options.transports, {
          WebSocket: platform.WebSocket as never,
          fetch: platform.fetch,
        }),
      ),
      tokens: new TokenProvider({
        getToken: options.getToken,
        refreshSkewMs: options.refreshSkewMs,
        clock,
        wallClock,
      }),
      breaker: this.breaker,
      backoff: new ExponentialBackoff({ ...options.backoff, floorMs: options.backoff.baseMs, random }),
      watchdog: new HeartbeatWatchdog({ clock, onDead: () => this.loop.heartbeatMissed() }),
      clock,
      connectTimeoutMs: options.connectTimeoutMs,
      maxFrameChars: options.maxFrameChars,
      isOnline: () => this.navigator()?.onLine !== false,
      subscription: () => this.subscription(),
      cursor: () => this.pipeline.getCursor(),
      sink: {
        status: (status) => this.store.setState({ status, circuit: this.circuitState() }),
        welcome: (frame, transport) => {
          this.pipeline.applyWelcome(frame);
          const state = this.store.getState();
          const reconnects = { ...state.byServiceReconnects };
          if (this.welcomes++ > 0) {
            for (const service of state.services) reconnects[service] = (reconnects[service] ?? 0) + 1;
          }
          this.store.setState({
            transport,
            connectionId: frame.connectionId,
            lastSuccessAt: wallClock(),
            cursor: this.pipeline.getCursor(),
            byServiceReconnects: reconnects,
            counters:
              this.welcomes > 1
                ? { ...state.counters, reconnects: state.counters.reconnects + 1 }
                : state.counters,
          });
        },
        frame: (frame) => {
          this.pipeline.applyFrame(frame);
          if (frame.type === 'batch') this.store.setState({ cursor: this.pipeline.getCursor() });
        },
        invalidFrame: () => this.bumpCounter('invalidFrames'),
        disconnected: (error, willRetryInMs) => {
          this.store.setState((state) => ({
            lastError: `${error.code}: ${error.message}`,
            counters: { ...state.counters, failedConnects: state.counters.failedConnects + 1 },
            circuit: this.circuitState(),
          }));
          this.emitter.emit('disconnected', { error, willRetryInMs });
        },
        forbidden: (error) => {
          this.store.setState({
            status: 'disabled',
            disabledReason: 'forbidden',
            lastError: `${error.code}: ${error.message}`,
          });
          this.emitter.emit('forbidden', error);
          this.emitter.emit('fallback', { reason: 'forbidden' });
        },
        updated: (cursor) => {
          if (cursor) this.pipeline.seed(cursor);
          this.store.setState({ cursor: this.pipeline.getCursor() });
        },
      },
    });

    this.stopLifecycle = watchPageLifecycle(
      {
        window: platform.window ?? browserGlobal('window'),
        document: platform.document ?? browserGlobal('document'),
      },
      {
        online: () => this.loop.online(),
        offline: () => {},
        visible: () => this.loop.ensureAlive(),
        resumed: (fromBfcache) => (fromBfcache ? this.loop.resume() : this.loop.ensureAlive()),
        suspended: () => this.loop.suspend(),
      },
    );

    if (options.devtools) this.installDevtools();
    this.applyGate();
  }

  subscribe(service: string, handler: EventHandler): () => void {
    this.assertOpen();
    if (!serviceNameSchema.safeParse(service).success) {
      throw new RangeError(
        `service must be a name of letters, digits and _ . : - (1..100 chars), got ${JSON.stringify(service)}`,
      );
    }
    if (typeof handler !== 'function')
      throw new TypeError(`handler must be a function, got ${typeof handler}`);
    const off = this.dispatcher.subscribe(service, handler);
    this.servicesChanged();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      off();
      if (!this.closed) this.servicesChanged();
    };
  }

  setPropertyFilter(propertyId: string | null): void {
    this.assertOpen();
    if (propertyId !== null && (typeof propertyId !== 'string' || propertyId === '')) {
      throw new RangeError(
        `propertyId must be a non-empty string or null, got ${JSON.stringify(propertyId)}`,
      );
    }
    if (propertyId === this.store.getState().propertyFilter) return;
    this.dispatcher.setPropertyFilter(propertyId);
    this.store.setState({ propertyFilter: propertyId });
    this.queueUpdate();
  }

  setFlags(flags: Partial<ResolvedFlags>): void {
    this.assertOpen();
    const next = resolveFlags(this.store.getState().flags, flags);
    this.store.setState({ flags: next });
    this.applyFlagsToDispatcher(next);
    this.applyGate();
  }

  getState(): RealtimeState {
    return this.store.getState();
  }

  subscribeState(listener: (state: RealtimeState) => void): () => void {
    return this.store.subscribe(listener);
  }

  on<E extends keyof RealtimeEventMap>(
    event: E,
    listener: (...args: RealtimeEventMap[E]) => void,
  ): () => void {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return () => this.off(event, listener);
  }

  off<E extends keyof RealtimeEventMap>(event: E, listener: (...args: RealtimeEventMap[E]) => void): void {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.platform.clock.clearTimeout(this.idleTimer);
    this.loop.stop();
    this.breaker.dispose();
    this.stopLifecycle();
    this.removeDevtools?.();
    this.store.setState({ status: 'closed' });
    this.emitter.removeAllListeners();
  }

  private deliver(service: string, events: RealtimeEvent[]): void {
    const { delivered } = this.dispatcher.dispatch(service, events);
    const state = this.store.getState();
    this.store.setState({
      byServiceDelivered: {
        ...state.byServiceDelivered,
        [service]: (state.byServiceDelivered[service] ?? 0) + delivered,
      },
      byServiceLastEventAt: { ...state.byServiceLastEventAt, [service]: this.options.platform.wallClock() },
    });
  }

  private servicesChanged(): void {
    const services = this.dispatcher.services().sort();
    const previous = this.store.getState().services;
    if (services.length === previous.length && services.every((s, i) => s === previous[i])) return;
    this.pipeline.setServices(services);
    this.store.setState({ services });
    if (services.length > 0) {
      this.options.platform.clock.clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      if (this.loop.isRunning) this.queueUpdate();
      else this.applyGate();
    } else if (this.loop.isRunning && this.idleTimer === undefined) {
      // A grace delay, so React StrictMode's unmount+mount or a route change
      // that swaps one subscriber for another causes no reconnect.
      this.idleTimer = this.options.platform.clock.setTimeout(() => {
        this.idleTimer = undefined;
        if (this.store.getState().services.length > 0 || this.closed) return;
        this.loop.stop();
        this.store.setState({ status: 'idle', transport: undefined, connectionId: undefined });
      }, this.options.idleGraceMs);
    }
  }

  /** Several subscribe calls in one tick become one in-place update. */
  private queueUpdate(): void {
    if (this.updateQueued) return;
    this.updateQueued = true;
    queueMicrotask(() => {
      this.updateQueued = false;
      if (!this.closed) this.loop.update();
    });
  }

  /** Starts or stops the connection as flags and subscribers say. */
  private applyGate(): void {
    if (this.closed) return;
    const state = this.store.getState();
    if (state.disabledReason === 'forbidden') return;
    const reason = gateReason(state.flags, this.options.scope.orgId);
    if (reason !== undefined) {
      const wasRunning = state.status !== 'disabled';
      this.loop.stop();
      this.store.setState({
        status: 'disabled',
        disabledReason: reason,
        transport: undefined,
        connectionId: undefined,
      });
      if (wasRunning) this.emitter.emit('fallback', { reason });
      return;
    }
    if (state.status === 'disabled') this.store.setState({ status: 'idle', disabledReason: undefined });
    if (state.services.length > 0 && !this.loop.isRunning) this.loop.start();
  }

  private applyFlagsToDispatcher(flags: ResolvedFlags): void {
    this.dispatcher.setShadowMode(flags.shadowMode);
    this.dispatcher.setDisabledServices(flags.disabledServices);
  }

  private subscription(): { services: string[]; propertyIds: string[] | null } {
    const { services, propertyFilter } = this.store.getState();
    return { services, propertyIds: propertyFilter === null ? null : [propertyFilter] };
  }

  private circuitState(): RealtimeState['circuit'] {
    const snapshot = this.breaker.snapshot();
    const circuit: RealtimeState['circuit'] = {
      state: snapshot.state,
      consecutiveFailures: snapshot.consecutiveFailures,
    };
    if (snapshot.openedAt !== undefined) circuit.openedAt = snapshot.openedAt;
    const previous = this.store.getState().circuit;
    return previous.state === circuit.state &&
      previous.consecutiveFailures === circuit.consecutiveFailures &&
      previous.openedAt === circuit.openedAt
      ? previous
      : circuit;
  }

  private bumpCounter(name: keyof RealtimeState['counters']): void {
    this.store.setState((state) => ({ counters: { ...state.counters, [name]: state.counters[name] + 1 } }));
  }

  private addSuppressed(service: string, count: number): void {
    this.store.setState((state) => ({
      byServiceSuppressed: {
        ...state.byServiceSuppressed,
        [service]: (state.byServiceSuppressed[service] ?? 0) + count,
      },
    }));
  }

  private navigator(): { onLine?: boolean } | undefined {
    return this.options.platform.navigator ?? browserGlobal('navigator');
  }

  private installDevtools(): void {
    const win = browserGlobal('window') as (Window & { __realtimeState?: () => RealtimeState }) | undefined;
    if (!win) return;
    const getter = () => this.getState();
    win.__realtimeState = getter;
    this.removeDevtools = () => {
      if (win.__realtimeState === getter) delete win.__realtimeState;
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new TypeError('this realtime client is closed');
  }
}

function browserGlobal<K extends 'window' | 'document' | 'navigator'>(
  name: K,
): (typeof globalThis)[K] | undefined {
  return typeof globalThis[name] === 'undefined' ? undefined : globalThis[name];
}
