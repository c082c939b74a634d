import fc from 'fast-check';
import { ExponentialBackoff } from '../../../src/connection/backoff';
import { CircuitBreaker } from '../../../src/connection/circuit-breaker';
import type { ConnectionLoopSink } from '../../../src/connection/connection-loop';
import { HeartbeatWatchdog } from '../../../src/connection/heartbeat-watchdog';
import type { TokenResult } from '../../../src/connection/token-provider';
import { RealtimeError } from '../../../src/errors';
import type {
  TransportCloseReason,
  TransportConnection,
  TransportContext,
  UpdateResult,
} from '../../../src/transports/types';
import { FakeClock } from './fake-clock';
import { scriptedLoop } from './loop-fixture';

// Drives a ConnectionLoop with random sequences of what its world can do to
// it — the app's calls, timers, the network, token fetches, transports that
// connect, fail, send frames and close, in any order — and watches the
// transport attempts it holds. Everything runs on a FakeClock and a fixed
// jitter draw, so one sequence always replays the same way.

/** The loop's public methods an app (or client.ts) calls. */
type LoopMethod =
  | 'start'
  | 'stop'
  | 'reconnectNow'
  | 'ensureAlive'
  | 'suspend'
  | 'resume'
  | 'online'
  | 'heartbeatMissed'
  | 'requestReplay'
  | 'update';

type TokenMode = 'ok' | 'hang' | 'reject' | 'throw' | 'expiring';
type UpdateMode = 'ok' | 'reject' | 'hang' | 'cursor';
type FrameKind = 'batch' | 'heartbeat' | 'error' | 'invalid' | 'reset';

/** Picks one of the three newest attempts (`k` modulo how many there are): stale ones included. */
interface Target {
  k: number;
}

interface CloseSpec extends Target {
  status: number | undefined;
  code: string | undefined;
  retryAfterMs: number | undefined;
}

export type Op =
  | { op: LoopMethod }
  | { op: 'advance'; ms: number }
  | { op: 'setOnline'; on: boolean }
  | { op: 'tokenMode'; mode: TokenMode }
  | { op: 'tokenSettle'; ok: boolean }
  | ({ op: 'connectResolve' } & Target)
  | ({ op: 'connectReject' } & CloseSpec)
  | ({ op: 'welcome'; heartbeatMs: number } & Target)
  | ({ op: 'frame'; kind: FrameKind; code: string } & Target)
  | ({ op: 'close' } & CloseSpec)
  | { op: 'updateMode'; mode: UpdateMode }
  | { op: 'updateSettle'; ok: boolean };

/**
 * The app code the sink and the status listener run. It may re-enter the
 * loop, which is where the invariant is easiest to break.
 */
export interface Config {
  /** What the app's `disconnected` handler does. */
  onDisconnected: 'none' | 'stop' | 'reconnect' | 'start';
  /** What a status listener does on `connecting`/`reconnecting`, when it acts. */
  onStatusDown: 'none' | 'reconnect' | 'restart';
  /**
   * At which of those statuses (0-based, counting only the ones that pass
   * `statusOnlyWhenOpen`) it acts. Not at every one: it would recurse, and
   * acting at the first ones only would never reach a failure's status.
   */
  statusActsAt: number[];
  /** Counts only the statuses while the breaker is open (the case of a past regression). */
  statusOnlyWhenOpen: boolean;
  /** Long-poll replays in place, a stream reconnects (see `requestReplay`). */
  transportName: 'ws' | 'long-poll';
  /** Without `getToken` the provider answers at once, with it as `tokenMode` says. */
  withGetToken: boolean;
  /**
   * How `getToken` answers until a `tokenMode` op changes it. Not always `ok`:
   * a token without expiry is cached until a 401, so the fetch of `start`
   * may be the only one of a run.
   */
  tokenMode: TokenMode;
}

const statusArb = fc.option(fc.constantFrom(401, 403, 429, 503, 500, 1006), { nil: undefined });
const codes = ['unauthorized', 'forbidden', 'overloaded', 'bad_request', 'weird', ''];
const codeArb = fc.option(fc.constantFrom(...codes), { nil: undefined });
const retryArb = fc.option(fc.constantFrom(0, 50, 5000), { nil: undefined });
const targetArb = fc.nat(5);
const closeSpecArb = fc.record({ k: targetArb, status: statusArb, code: codeArb, retryAfterMs: retryArb });

const METHODS: readonly LoopMethod[] = [
  'reconnectNow',
  'ensureAlive',
  'online',
  'requestReplay',
  'update',
  'update',
  'heartbeatMissed',
];

// The delays straddle the policies' own: backoff 100–400 ms, breaker cooldown
// 500–2000 ms, welcome timeout 1000 ms, heartbeats of 100 and 1000 ms.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...METHODS).map((op): Op => ({ op })) },
  // Half of the invariant is about the back/forward cache: more of these
  // than of any other method.
  { weight: 3, arbitrary: fc.constantFrom<LoopMethod>('suspend', 'resume').map((op): Op => ({ op })) },
  { weight: 1, arbitrary: fc.constantFrom<LoopMethod>('start', 'stop').map((op): Op => ({ op })) },
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(0, 1, 50, 99, 100, 150, 300, 600, 1000, 2500, 30_000)
      .map((ms): Op => ({ op: 'advance', ms })),
  },
  { weight: 1, arbitrary: fc.boolean().map((on): Op => ({ op: 'setOnline', on })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<TokenMode>('ok', 'hang', 'reject', 'throw', 'expiring')
      .map((mode): Op => ({ op: 'tokenMode', mode })),
  },
  { weight: 2, arbitrary: fc.boolean().map((ok): Op => ({ op: 'tokenSettle', ok })) },
  { weight: 5, arbitrary: targetArb.map((k): Op => ({ op: 'connectResolve', k })) },
  { weight: 2, arbitrary: closeSpecArb.map((spec): Op => ({ op: 'connectReject', ...spec })) },
  {
    weight: 5,
    arbitrary: fc
      .record({ k: targetArb, heartbeatMs: fc.constantFrom(100, 1000, 60_000) })
      .map((r): Op => ({ op: 'welcome', ...r })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        k: targetArb,
        kind: fc.constantFrom<FrameKind>('batch', 'heartbeat', 'error', 'invalid', 'reset'),
        code: fc.constantFrom('unauthorized', 'forbidden', 'overloaded', 'x'),
      })
      .map((r): Op => ({ op: 'frame', ...r })),
  },
  { weight: 2, arbitrary: closeSpecArb.map((spec): Op => ({ op: 'close', ...spec })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<UpdateMode>('ok', 'reject', 'hang', 'cursor')
      .map((mode): Op => ({ op: 'updateMode', mode })),
  },
  { weight: 1, arbitrary: fc.boolean().map((ok): Op => ({ op: 'updateSettle', ok })) },
);

/**
 * A run always starts the loop first: most sequences would otherwise do
 * nothing for many ops. No minimum length, so shrinking can drop every op
 * after the violation.
 */
export const opsArb: fc.Arbitrary<Op[]> = fc
  .array(opArb, { maxLength: 80, size: 'max' })
  .map((ops): Op[] => [{ op: 'start' }, ...ops]);

export const configArb: fc.Arbitrary<Config> = fc.record({
  // Mostly an app that lets the loop decide, as most apps do.
  onDisconnected: fc.constantFrom<Config['onDisconnected']>(
    'none',
    'none',
    'none',
    'stop',
    'reconnect',
    'start',
  ),
  onStatusDown: fc.constantFrom<Config['onStatusDown']>('none', 'none', 'reconnect', 'restart'),
  statusActsAt: fc.uniqueArray(fc.nat(15), { maxLength: 3 }),
  statusOnlyWhenOpen: fc.boolean(),
  transportName: fc.constantFrom<Config['transportName']>('ws', 'long-poll'),
  withGetToken: fc.boolean(),
  tokenMode: fc.constantFrom<TokenMode>('ok', 'ok', 'hang', 'reject', 'throw', 'expiring'),
});

/** What broke the invariant, and where in the log. */
export interface Violation {
  readonly what: 'two live attempts' | 'a live attempt while suspended';
  /** Numbers of the attempts still live. */
  readonly live: readonly number[];
  /** When it was seen: at a transport's `connect`, or right after / settled after an op. */
  readonly when: string;
}

export interface RunResult {
  /** What happened, one line an event, up to the violation if there was one. */
  readonly log: readonly string[];
  readonly violation: Violation | undefined;
}

/** One `chain.connect` call: the transport attempt the invariant counts. */
interface Attempt {
  readonly n: number;
  readonly ctx: TransportContext;
  readonly resolve: (connection: TransportConnection) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  /** The loop closed the connection it was handed. */
  closed: boolean;
}

interface Deferred<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/** Bounded, not "until idle": an app handler that reconnects on every failure may never go idle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/**
 * Runs `ops` against a fresh loop and checks, whenever the number of live
 * attempts can have grown (at every `connect`) and after every op, that at
 * most one attempt is live and none while the loop is suspended. Live means
 * neither aborted nor closed by the loop, as `live()` of the regression tests.
 */
export async function runLoop(ops: readonly Op[], config: Config): Promise<RunResult> {
  const clock = new FakeClock();
  const log: string[] = [];
  const attempts: Attempt[] = [];
  let online = true;
  let tokenMode = config.tokenMode;
  let tokenSeq = 0;
  const pendingTokens: Deferred<TokenResult>[] = [];
  let updateMode: UpdateMode = 'ok';
  const pendingUpdates: Deferred<UpdateResult | undefined>[] = [];
  let statusCount = 0;
  // The loop's `#suspended`, mirrored from the outside: set and cleared
  // exactly where the loop's own methods set and clear it (see `call`).
  let suspended = false;
  let violation: Violation | undefined;

  const check = (when: string): void => {
    if (violation) return;
    const live = attempts.filter((a) => !a.closed && !a.ctx.signal.aborted).map((a) => a.n);
    if (live.length > 1) violation = { what: 'two live attempts', live, when };
    else if (suspended && live.length > 0) violation = { what: 'a live attempt while suspended', live, when };
    if (violation) log.push(`!! ${violation.what}: #${live.join(', #')} (${when})`);
  };

  const getToken = (): TokenResult | Promise<TokenResult> => {
    const n = ++tokenSeq;
    log.push(`getToken ${n} (${tokenMode})`);
    switch (tokenMode) {
      case 'throw':
        throw new Error('getToken threw');
      case 'reject':
        return Promise.reject(new Error('getToken rejected'));
      case 'hang':
        return new Promise<TokenResult>((resolve, reject) => pendingTokens.push({ resolve, reject }));
      case 'expiring':
        return { token: `t${n}`, expiresAt: clock.wall() + 2000 };
      default:
        return `t${n}`;
    }
  };

  const chain = {
    currentName: config.transportName,
    connect(ctx: TransportContext): Promise<TransportConnection> {
      const n = attempts.length;
      log.push(`connect #${n} token=${ctx.token}`);
      return new Promise<TransportConnection>((resolve, reject) => {
        attempts.push({ n, ctx, resolve, reject, settled: false, closed: false });
        ctx.signal.addEventListener('abort', () => log.push(`aborted #${n}`));
        // The one moment the number of live attempts grows.
        check(`at connect #${n}`);
      });
    },
  };

  const connectionOf = (a: Attempt): TransportConnection => ({
    update: (services, propertyIds) => {
      log.push(`update #${a.n} ${services.join(',')} ${JSON.stringify(propertyIds)} (${updateMode})`);
      switch (updateMode) {
        case 'ok':
          return Promise.resolve(undefined);
        case 'cursor':
          return Promise.resolve({ cursor: { tasks: 3 } });
        case 'reject':
          return Promise.reject(new Error('update failed'));
        default:
          return new Promise<UpdateResult | undefined>((resolve, reject) =>
            pendingUpdates.push({ resolve, reject }),
          );
      }
    },
    setToken: (token) => log.push(`setToken #${a.n} ${token}`),
    // Long-poll asks from the lowered cursor in place; a stream reconnects.
    ...(config.transportName === 'long-poll' && { replay: () => log.push(`replay #${a.n}`) }),
    close: () => {
      a.closed = true;
      log.push(`close #${a.n}`);
    },
  });

  const call = (method: LoopMethod): void => {
    // Mirrors `#suspended`: start() clears it on a stopped loop, resume() on a
    // running one, stop() leaves nothing running to hold a socket, and
    // suspend() sets it on a running loop. Set before the call, as the loop
    // does before it can reach any app code.
    if (method === 'start' && !loop.isRunning) suspended = false;
    else if (method === 'resume' && loop.isRunning) suspended = false;
    else if (method === 'stop') suspended = false;
    else if (method === 'suspend' && loop.isRunning) suspended = true;
    loop[method]();
  };

  const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 500, maxCooldownMs: 2000, clock });
  let breakerState = breaker.snapshot().state;
  breaker.onStateChange((to) => {
    log.push(`breaker ${breakerState} -> ${to}`);
    breakerState = to;
  });

  const sink: ConnectionLoopSink = {
    status: (status) => {
      log.push(`status ${status}`);
      if (
        config.onStatusDown === 'none' ||
        status === 'connected' ||
        (config.statusOnlyWhenOpen && breaker.snapshot().state !== 'open') ||
        !config.statusActsAt.includes(statusCount++)
      ) {
        return;
      }
      log.push(`  listener: ${config.onStatusDown}`);
      if (config.onStatusDown === 'restart') {
        call('stop');
        call('start');
      } else call('reconnectNow');
    },
    reopened: (connectionId) => log.push(`reopened ${connectionId}`),
    welcome: (frame, transport, connectMs) =>
      log.push(`welcome ${frame.connectionId} via ${transport} in ${connectMs} ms`),
    frame: (frame) => log.push(`frame ${frame.type}`),
    invalidFrame: (reason) => log.push(`invalidFrame ${reason}`),
    disconnected: (error, willRetryInMs) => {
      log.push(`disconnected ${error.code} retry in ${willRetryInMs}`);
      if (config.onDisconnected === 'none') return;
      log.push(`  handler: ${config.onDisconnected}`);
      call(config.onDisconnected === 'reconnect' ? 'reconnectNow' : config.onDisconnected);
    },
    forbidden: (error) => log.push(`forbidden ${error.code}`),
    updated: (cursor) => log.push(`updated ${JSON.stringify(cursor)}`),
  };

  const watchdog = new HeartbeatWatchdog({
    clock,
    onDead: () => {
      log.push('watchdog: dead');
      loop.heartbeatMissed();
    },
  });
  const loop = scriptedLoop(clock, chain, sink, {
    getToken: config.withGetToken ? getToken : undefined,
    breaker,
    backoff: new ExponentialBackoff({ baseMs: 100, floorMs: 100, capMs: 400, random: () => 0.5 }),
    watchdog,
    isOnline: () => online,
    cursor: () => ({ tasks: 1 }),
  });

  const pick = ({ k }: Target): Attempt | undefined =>
    attempts.length ? attempts[attempts.length - 1 - (k % Math.min(attempts.length, 3))] : undefined;
  const closeError = (o: CloseSpec): RealtimeError =>
    new RealtimeError(
      o.code === 'unauthorized' || o.code === 'forbidden' ? o.code : 'transport_unavailable',
      'connect failed',
      { status: o.status, retryAfterMs: o.retryAfterMs },
    );
  const closeReason = (o: CloseSpec): TransportCloseReason => ({
    status: o.status,
    code: o.code,
    retryAfterMs: o.retryAfterMs,
  });

  for (const [i, o] of ops.entries()) {
    log.push(`-- op ${i}: ${JSON.stringify(o)}`);
    try {
      switch (o.op) {
        case 'heartbeatMissed':
          // Only a welcomed connection's watchdog calls it (client.ts), never app code.
          if (loop.isConnected) call(o.op);
          break;
        case 'start':
        case 'stop':
        case 'reconnectNow':
        case 'ensureAlive':
        case 'suspend':
        case 'resume':
        case 'online':
        case 'requestReplay':
        case 'update':
          call(o.op);
          break;
        case 'advance':
          clock.advance(o.ms);
          break;
        case 'setOnline':
          online = o.on;
          break;
        case 'tokenMode':
          tokenMode = o.mode;
          break;
        case 'tokenSettle': {
          const token = pendingTokens.shift();
          if (o.ok) token?.resolve(`late${tokenSeq}`);
          else token?.reject(new Error('late reject'));
          break;
        }
        case 'connectResolve': {
          const a = pick(o);
          if (a && !a.settled) {
            a.settled = true;
            a.resolve(connectionOf(a));
          }
          break;
        }
        case 'connectReject': {
          const a = pick(o);
          if (a && !a.settled) {
            a.settled = true;
            a.reject(closeError(o));
          }
          break;
        }
        case 'welcome': {
          // Also to an attempt whose connect has not resolved: some transports deliver it first.
          const a = pick(o);
          a?.ctx.onFrame(
            JSON.stringify({
              type: 'welcome',
              connectionId: `c${a.n}`,
              serverTime: 5,
              heartbeatMs: o.heartbeatMs,
              cursor: { tasks: 1 },
            }),
          );
          break;
        }
        case 'frame': {
          const frames: Record<FrameKind, object> = {
            batch: { type: 'batch', events: [], after: { tasks: 1 }, cursor: { tasks: 2 } },
            heartbeat: { type: 'heartbeat', serverTime: 9 },
            reset: { type: 'reset', services: ['tasks'], cursor: {}, reason: 'x' },
            error: { type: 'error', code: o.code, message: 'm', retryAfterMs: 20 },
            invalid: { type: 'nope' },
          };
          pick(o)?.ctx.onFrame(frames[o.kind]);
          break;
        }
        case 'close':
          pick(o)?.ctx.onClose(closeReason(o));
          break;
        case 'updateMode':
          updateMode = o.mode;
          break;
        case 'updateSettle': {
          const update = pendingUpdates.shift();
          if (o.ok) update?.resolve({ cursor: { tasks: 7 } });
          else update?.reject(new Error('late update failure'));
          break;
        }
      }
    } catch (error) {
      // A throw out of the loop is no invariant of this harness; other tests pin it.
      log.push(`threw ${error instanceof Error ? error.message : String(error)}`);
    }
    check(`right after op ${i}`);
    await settle();
    check(`after op ${i} settled`);
    if (violation) break;
  }
  return { log, violation };
}
