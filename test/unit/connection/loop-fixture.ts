import { ExponentialBackoff } from '../../../src/connection/backoff';
import { CircuitBreaker, DEFAULT_CIRCUIT } from '../../../src/connection/circuit-breaker';
import {
  ConnectionLoop,
  type ConnectionLoopDeps,
  type ConnectionLoopSink,
} from '../../../src/connection/connection-loop';
import { HeartbeatWatchdog } from '../../../src/connection/heartbeat-watchdog';
import { tokenKit } from '../../../src/connection/token-kit';
import { type GetToken, TokenProvider } from '../../../src/connection/token-provider';
import type { TransportConnection, TransportContext } from '../../../src/transports/types';
import type { FakeClock } from './fake-clock';

/** The parts of a TransportChain the loop uses. */
export interface ScriptedChain {
  currentName: string | undefined;
  connect(ctx: TransportContext): Promise<TransportConnection>;
  /** What the loop tells the chain of welcomes; a no-op unless the test listens. */
  noteWelcome?(welcomed: boolean): void;
}

/**
 * A ConnectionLoop over a scripted chain, with the small timings the loop
 * tests share (connect timeout 1 s, backoff 100–200 ms without jitter, the
 * default breaker). `overrides` replaces any dependency; `getToken` feeds the
 * token provider.
 */
export function scriptedLoop(
  clock: FakeClock,
  chain: ScriptedChain,
  sink: ConnectionLoopSink,
  overrides: Partial<ConnectionLoopDeps> & { getToken?: GetToken } = {},
): ConnectionLoop {
  const { getToken, ...deps } = overrides;
  chain.noteWelcome ??= () => {};
  const loop: ConnectionLoop = new ConnectionLoop({
    url: 'https://x.test',
    // The loop uses only `connect`, `currentName` and `noteWelcome` of the chain.
    chain: chain as ConnectionLoopDeps['chain'],
    tokens: new TokenProvider({ getToken, refreshSkewMs: 500, clock, wallClock: clock.wall }, tokenKit),
    breaker: new CircuitBreaker({ ...DEFAULT_CIRCUIT, clock }),
    backoff: new ExponentialBackoff({ baseMs: 100, floorMs: 100, capMs: 200, random: () => 0.5 }),
    watchdog: new HeartbeatWatchdog({ clock, onDead: () => loop.heartbeatMissed() }),
    clock,
    connectTimeoutMs: 1000,
    maxFrameChars: 100_000,
    isOnline: () => true,
    subscription: () => ({ services: ['tasks'], propertyIds: null }),
    cursor: () => ({}),
    sink,
    ...deps,
  });
  return loop;
}

/** A `welcome` frame of connection `connectionId` (60 s heartbeats, an empty cursor). */
export const welcomeFrame = (connectionId: string) => ({
  type: 'welcome',
  connectionId,
  serverTime: 1,
  heartbeatMs: 60_000,
  cursor: {},
});

/** A sink that ignores all but what `listening` gives. */
export function quietSink(listening: Partial<ConnectionLoopSink> = {}): ConnectionLoopSink {
  const ignore = () => {};
  return {
    status: ignore,
    welcome: ignore,
    reopened: ignore,
    frame: ignore,
    invalidFrame: ignore,
    disconnected: ignore,
    forbidden: ignore,
    updated: ignore,
    ...listening,
  };
}
