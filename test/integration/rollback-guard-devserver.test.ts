import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RollbackThresholds } from '../../src/observability/rollback-guard';
import type { RealtimeOptions } from '../../src/options';
import { closingAfterEach, sleep, until } from './devserver-helpers';

// The auto-rollback guard against the real dev server on 127.0.0.1, each of
// the ways docs/rollout.md says it catches a server doing harm: invalid
// frames push the error rate (invalid frames over frames) over `errorRate`
// (`error_rate`), and a server refusing connections (upgrades refused; the
// server down) long enough keeps the circuit open past `circuitOpenMs`
// (`circuit_open`). Failed connects are no errors of the rate. What the docs
// promise (docs/observability.md, "The auto-rollback guard"), checked here:
// - `error_rate` trips at the invalid frame that takes the rate over
//   `errorRate` (once there are `minSamples` frames): the guard evaluates at
//   each one, not at a tick;
// - `circuit_open` trips at the first breaker change (or 10 s tick) after the
//   circuit has been open `circuitOpenMs`;
// - then `status: 'disabled'`, `disabledReason: 'auto_rollback'`,
//   `rollback: { state: 'tripped', reason }`, one `fallback` per trip, the
//   connection closed and no attempt at the server until `cooldownMs` after
//   the trip; then the windows start empty and the client connects again, and
//   resumes from its cursor: every event published meanwhile, once, in order.
// A connection welcomed and then dropped, or a few refused attempts (a
// restart), trip nothing (docs/troubleshooting.md): a flapping server is not
// what the guard catches.
//
// Option values, kept short so that each test takes a few seconds:
// - errorRate 0.5 / degradedRate 0.25 / minSamples 4: a handful of failures
//   trip it, and the number that must is exact (see `framesSeen`);
// - windowMs 60 s: nothing leaves the window during a test, so the rate is
//   the plain ratio of what the test did;
// - cooldownMs 1500: long enough to see that nothing reconnects, short
//   enough for the test;
// - circuit.failureThreshold 1000 where only the rate is under test: else
//   the breaker's open periods slow the failing attempts down; where the
//   circuit is, 3 failures open it, for 100 then 200 ms, and circuitOpenMs
//   is 1000;
// - backoff 10..50 ms: attempts come quickly.

const closing = closingAfterEach();
const COOLDOWN_MS = 1500;
const CIRCUIT_OPEN_MS = 1000;
/** Where the circuit is under test: open after 3 failures, for 100 then 200 ms. */
const CIRCUIT = { failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 200 };
const RATE: Partial<RollbackThresholds> = {
  errorRate: 0.5,
  degradedRate: 0.25,
  minSamples: 4,
  windowMs: 60_000,
  circuitOpenMs: 60_000,
  cooldownMs: COOLDOWN_MS,
};

let orgs = 0;

interface Watched {
  rt: RealtimeClient;
  seqs: number[];
  fallbacks: Array<{ reason: string; at: number }>;
  degraded: number[];
  /** Every message the client's sockets received (welcomes, batches, heartbeats, garbage). */
  framesSeen(): number;
}

/**
 * A dev server whose heartbeats are far apart (the test counts every frame
 * the client sees; heartbeats would add some at random moments) and a
 * client of a new org on it, over WebSocket only (each attempt is then one
 * upgrade request at the server: `requestsTotal`).
 */
async function rig(extra: Partial<RealtimeOptions> = {}) {
  const dev: DevServer = closing(
    await startDevServer({ heartbeatMs: 60_000, batchWindowMs: { min: 1, max: 5 } }),
  );
  const org = `org_rollback_${++orgs}`;
  let frames = 0;
  // Counts what the client's sockets receive: the valid frames of the rate.
  class CountingWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.addEventListener('message', () => {
        frames++;
      });
    }
  }
  const rt = closing(
    createRealtime({
      url: dev.url,
      scope: { orgId: org, userId: 'u_1' },
      transports: ['websocket'],
      platform: { WebSocket: CountingWebSocket as never },
      auth: { getToken: () => `dev:${org}:u_1` },
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
      backoff: { baseMs: 10, capMs: 50 },
      circuit: { failureThreshold: 1000 },
      rollback: RATE,
      ...extra,
    }),
  );
  const watched: Watched = {
    rt,
    seqs: [],
    fallbacks: [],
    degraded: [],
    framesSeen: () => frames,
  };
  rt.on('fallback', ({ reason }) => watched.fallbacks.push({ reason, at: performance.now() }));
  rt.on('degraded', ({ errorRate }) => watched.degraded.push(errorRate));
  rt.subscribe('tasks', (events) => {
    for (const e of events) watched.seqs.push(e.seq);
  });
  const publish = (count: number): number => {
    let seq = 0;
    for (let i = 0; i < count; i++)
      seq = dev.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
    return seq;
  };
  /** Upgrade requests (= connection attempts) the server has seen. */
  const attempts = () => dev.metrics().requestsTotal;
  const orgConnections = () => dev.connections().filter((c) => c.orgId === org).length;
  return { dev, org, publish, attempts, orgConnections, ...watched };
}

/** 1..n */
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** A healthy start: connected, `count` events delivered one batch each. */
async function healthy(r: Awaited<ReturnType<typeof rig>>, count: number): Promise<void> {
  await until(() => r.rt.getState().status === 'connected', 5000, 'connected');
  for (let i = 1; i <= count; i++) {
    r.publish(1);
    await until(() => r.seqs.length === i, 3000, `event ${i}`);
  }
}

describe('auto-rollback against the real dev server: the guard trips when the server degrades', () => {
  it('refused connects: no error rate however many fail; the circuit open past circuitOpenMs trips circuit_open, stays off and quiet for cooldownMs, trips again if still failing, then replays everything', async () => {
    const r = await rig({
      rollback: { ...RATE, circuitOpenMs: CIRCUIT_OPEN_MS },
      circuit: CIRCUIT,
    });
    await healthy(r, 3);
    // Valid samples: the welcome and every frame since (no error yet).
    const valid = r.framesSeen();
    expect(valid).toBe(4);

    // ── the server refuses every upgrade; the live connection is cut ──
    const before = r.attempts();
    const degradedAt = performance.now();
    let openedAt: number | undefined;
    r.rt.subscribeState((s) => {
      if (s.circuit.state !== 'closed') openedAt ??= performance.now();
    });
    r.dev.faults.refuseWebSocket(true);
    r.dev.faults.dropConnections();
    r.publish(3); // 4..6, published while the client cannot connect
    await until(() => r.fallbacks.length === 1, 5000, 'the trip');
    const trippedAfterMs = r.fallbacks[0]!.at - degradedAt;
    const failed = r.attempts() - before;
    // Counted as errors of the rate (failed / (valid + failed)), the
    // failures would have tripped `error_rate` at failed = valid + 1: more
    // failed, and the rate never said a word.
    expect(failed).toBeGreaterThan(valid + 1);
    expect(r.rt.getState().counters.failedConnects).toBe(failed);
    expect(r.degraded).toEqual([]);
    expect(r.fallbacks[0]!.reason).toBe('auto_rollback');
    expect(r.fallbacks[0]!.at - openedAt!).toBeGreaterThan(CIRCUIT_OPEN_MS);
    expect(r.rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'circuit_open' },
      transport: undefined,
      connectionId: undefined,
    });

    // ── tripped: no attempt at all while the cooldown runs ──
    const atTrip = r.attempts();
    await sleep(COOLDOWN_MS - 400);
    expect(r.attempts()).toBe(atTrip);
    expect(r.rt.getState().status).toBe('disabled');
    expect(r.seqs).toEqual(upTo(3));

    // ── the cooldown ends into a server still refusing: it tries again, and trips again ──
    // The open time counts from the loop's new start: circuitOpenMs more.
    await until(() => r.fallbacks.length === 2, COOLDOWN_MS + CIRCUIT_OPEN_MS + 3000, 'the second trip');
    const secondAfterMs = r.fallbacks[1]!.at - r.fallbacks[0]!.at;
    expect(secondAfterMs).toBeGreaterThan(COOLDOWN_MS + CIRCUIT_OPEN_MS - 20);
    expect(r.attempts() - atTrip).toBeGreaterThan(1);
    expect(r.fallbacks.map((f) => f.reason)).toEqual(['auto_rollback', 'auto_rollback']);
    expect(r.rt.getState().rollback).toMatchObject({ state: 'tripped', reason: 'circuit_open' });

    // ── the server recovers during the second cooldown: one connection at its end ──
    r.dev.faults.refuseWebSocket(false);
    r.publish(3); // 7..9
    const atSecondTrip = r.attempts();
    await sleep(COOLDOWN_MS - 400);
    expect(r.attempts()).toBe(atSecondTrip);
    expect(r.orgConnections()).toBe(0);
    await until(() => r.rt.getState().status === 'connected', 3000, 'connected after the cooldown');
    const liftedAfterMs = performance.now() - r.fallbacks[1]!.at;
    expect(liftedAfterMs).toBeGreaterThanOrEqual(COOLDOWN_MS - 20);
    expect(r.attempts() - atSecondTrip).toBe(1);
    expect(r.orgConnections()).toBe(1);
    expect(r.rt.getState()).toMatchObject({ disabledReason: undefined, rollback: { state: 'ok' } });

    // Everything published during the whole run, once, in order: the replay from the cursor.
    r.publish(1); // 10
    await until(() => r.seqs.length >= 10, 3000, 'all 10 events');
    await sleep(100);
    expect(r.seqs).toEqual(upTo(10));
    expect(r.fallbacks).toHaveLength(2);
    console.log(
      `refused connects: tripped ${Math.round(trippedAfterMs)} ms after the server degraded (${failed} failed attempts), ` +
        `again ${Math.round(secondAfterMs)} ms later, back ${Math.round(liftedAfterMs)} ms after the second trip`,
    );
  });

  it('invalid frames: trips at the invalid frame that takes the rate over errorRate, the server sees the connection closed, none until the cooldown ends, then the replay', async () => {
    const r = await rig();
    await healthy(r, 3);
    const valid = r.framesSeen();
    const connectionsBefore = r.dev.metrics().totalConnections;

    const sentAt = performance.now();
    // More garbage than it takes: what comes after the trip is on a closed connection.
    for (let i = 0; i < 2 * valid + 10; i++) r.dev.faults.sendRaw(r.org, `not a frame ${i}`);
    await until(() => r.fallbacks.length === 1, 3000, 'the trip');
    const trippedAfterMs = r.fallbacks[0]!.at - sentAt;
    // invalid / (valid + invalid) first over 0.5 at invalid = valid + 1.
    expect(r.rt.getState().counters.invalidFrames).toBe(valid + 1);
    expect(r.rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'error_rate' },
    });
    expect(r.fallbacks[0]!.reason).toBe('auto_rollback');
    // Closed at the server too, and not reopened while tripped.
    await until(() => r.orgConnections() === 0, 2000, 'the connection closed at the server');
    r.publish(4); // 4..7, while off
    await sleep(COOLDOWN_MS - 400);
    expect(r.orgConnections()).toBe(0);
    expect(r.dev.metrics().totalConnections).toBe(connectionsBefore);
    expect(r.seqs).toEqual(upTo(3));

    await until(() => r.rt.getState().status === 'connected', 3000, 'connected after the cooldown');
    const liftedAfterMs = performance.now() - r.fallbacks[0]!.at;
    expect(liftedAfterMs).toBeGreaterThanOrEqual(COOLDOWN_MS - 20);
    expect(r.dev.metrics().totalConnections).toBe(connectionsBefore + 1);
    r.publish(1); // 8
    await until(() => r.seqs.length >= 8, 3000, 'all 8 events');
    await sleep(100);
    expect(r.seqs).toEqual(upTo(8));
    expect(r.fallbacks).toHaveLength(1);
    expect(r.orgConnections()).toBe(1);
    console.log(
      `invalid frames: tripped ${Math.round(trippedAfterMs)} ms after the garbage was sent, back after ${Math.round(liftedAfterMs)} ms`,
    );
  });

  it('the server down: the circuit open past circuitOpenMs trips circuit_open at the next breaker change; a server back meanwhile is not reconnected to before the cooldown ends', async () => {
    const r = await rig({
      // Failed connects are no errors of the rate: the default errorRate.
      rollback: { ...RATE, errorRate: 0.05, degradedRate: 0.02, circuitOpenMs: CIRCUIT_OPEN_MS },
      // Its open periods (100, then 200 ms) bound how late after
      // circuitOpenMs the breaker next changes, where the guard looks.
      circuit: CIRCUIT,
    });
    await healthy(r, 3);
    let openedAt: number | undefined;
    r.rt.subscribeState((s) => {
      if (s.circuit.state !== 'closed') openedAt ??= performance.now();
    });

    const stoppedAt = performance.now();
    await r.dev.stop(); // connections refused (ECONNREFUSED) from now on
    r.publish(3); // 4..6, the server's log keeps them
    await until(() => r.fallbacks.length === 1, 5000, 'the trip');
    const trippedAt = r.fallbacks[0]!.at;
    expect(openedAt).toBeDefined();
    const openForMs = trippedAt - openedAt!;
    expect(openForMs).toBeGreaterThan(CIRCUIT_OPEN_MS);
    // The next breaker change after 1000 ms open is at most one open period
    // (200 ms) plus a refused probe away; slack for a loaded machine.
    expect(openForMs).toBeLessThan(CIRCUIT_OPEN_MS + 1500);
    expect(r.rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'circuit_open' },
    });

    // The server is back at once; the client stays off until the cooldown ends.
    await r.dev.start();
    const atTrip = r.attempts();
    await sleep(COOLDOWN_MS - 500);
    expect(r.attempts()).toBe(atTrip);
    expect(r.orgConnections()).toBe(0);
    await until(() => r.rt.getState().status === 'connected', 3000, 'connected after the cooldown');
    const liftedAfterMs = performance.now() - trippedAt;
    expect(liftedAfterMs).toBeGreaterThanOrEqual(COOLDOWN_MS - 20);
    expect(r.attempts() - atTrip).toBe(1);
    expect(r.rt.getState().rollback).toEqual({ state: 'ok' });
    r.publish(1); // 7
    await until(() => r.seqs.length >= 7, 3000, 'all 7 events');
    await sleep(100);
    expect(r.seqs).toEqual(upTo(7));
    expect(r.fallbacks).toEqual([{ reason: 'auto_rollback', at: trippedAt }]);
    console.log(
      `server down: tripped ${Math.round(trippedAt - stoppedAt)} ms after the stop, circuit open ${Math.round(openForMs)} ms; back after ${Math.round(liftedAfterMs)} ms`,
    );
  });
});

describe('auto-rollback against the real dev server: a degradation below the thresholds does not trip it', () => {
  it('a few invalid frames among many valid ones (the default rates): degraded, never tripped, nothing lost', async () => {
    // The default thresholds but for the window (60 s: see the top of the file).
    const r = await rig({ rollback: { windowMs: 60_000 } });
    await until(() => r.rt.getState().status === 'connected', 5000, 'connected');
    // One invalid frame per 30 valid ones at most: the rate stays at or
    // below 1/31 (3.2 %), above degradedRate (2 %), below errorRate (5 %).
    let published = 0;
    let garbage = 0;
    while (published < 120) {
      r.publish(1);
      published++;
      await until(() => r.seqs.length === published, 3000, `event ${published}`);
      if (r.framesSeen() - garbage >= 30 * (garbage + 1)) {
        r.dev.faults.sendRaw(r.org, `not a frame ${garbage++}`);
        await until(() => r.rt.getState().counters.invalidFrames === garbage, 3000, 'the invalid frame');
      }
    }
    expect(garbage).toBe(4);
    expect(r.fallbacks).toEqual([]);
    expect(r.rt.getState()).toMatchObject({ status: 'connected', rollback: { state: 'degraded' } });
    const rate = r.rt.getState().rollback.errorRate!;
    expect(rate).toBeGreaterThan(0.02);
    expect(rate).toBeLessThanOrEqual(0.05);
    expect(r.degraded.length).toBeGreaterThanOrEqual(1);
    expect(r.seqs).toEqual(upTo(120));
    expect(r.dev.metrics().totalConnections).toBe(1);
  });

  it('outages with one refused attempt each, and live connections cut (not failed attempts): never tripped, nothing lost', async () => {
    // errorRate 0.25 here: counted as errors, each outage below would cost
    // one failed attempt for a welcome and 5 events (1/7, 14 %), under even
    // that; they are none. minSamples 4 so that the rate counts from the
    // first outage on.
    const r = await rig({ rollback: { ...RATE, errorRate: 0.25, degradedRate: 0.2 } });
    await until(() => r.rt.getState().status === 'connected', 5000, 'connected');
    let seq = 0;
    for (let outage = 0; outage < 4; outage++) {
      for (let i = 0; i < 5; i++) {
        seq = r.publish(1);
        await until(() => r.seqs.length === seq, 3000, `event ${seq}`);
      }
      const before = r.attempts();
      r.dev.faults.refuseWebSocket(true);
      r.dev.faults.dropConnections();
      await until(() => r.attempts() > before, 3000, 'a refused attempt');
      r.dev.faults.refuseWebSocket(false);
      await until(() => r.rt.getState().status === 'connected', 3000, 'reconnected');
      expect(r.attempts() - before).toBe(2);
    }
    // Live connections cut right after their welcome: no failed attempt at all.
    for (let cut = 0; cut < 6; cut++) {
      const welcomed = r.dev.metrics().totalConnections;
      r.dev.faults.dropConnections();
      await until(() => r.dev.metrics().totalConnections > welcomed, 3000, 'welcomed again');
      await until(() => r.rt.getState().status === 'connected', 3000, 'connected');
    }
    seq = r.publish(1);
    await until(() => r.seqs.length === seq, 3000, 'the last event');
    expect(r.fallbacks).toEqual([]);
    expect(r.rt.getState().status).toBe('connected');
    expect(r.rt.getState().rollback).toEqual({ state: 'ok' });
    expect(r.degraded).toEqual([]);
    expect(r.rt.getState().counters.failedConnects).toBe(4);
    expect(r.seqs).toEqual(upTo(seq));
  });
});
