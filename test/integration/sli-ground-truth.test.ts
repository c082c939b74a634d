import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import { sketchFromJSON } from '../../src/observability/sketch-codec';
import { type SliReport, sliReportSchema } from '../../src/observability/telemetry-payload';
import type { RealtimeOptions } from '../../src/options';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { createFakeBrowser } from '../../src/testing/fake-browser';
import { closingAfterEach, sleep, until } from './devserver-helpers';

// What a real, sampled client REPORTS, compared with what really happened.
// The client runs in Node against the real dev server on 127.0.0.1 and POSTs
// its reports to a small HTTP server of the test, which keeps them. Ground
// truth is what the test itself did or saw: the handler measures
// `Date.now() - event.ts` (the dev server and the client share one wall
// clock), the test counts the frames it injected and the connections it cut.
// The figures compared are those of the report `close()` sends, built in the
// same tick as the `getState()` the test takes just before it.

const closing = closingAfterEach();
const ALPHA = 0.01; // the sketches' documented relative accuracy (docs/observability.md)
/**
 * Clock granularity: `ts` and the handler's `Date.now()` are whole ms, the
 * client's sample is the monotonic clock plus an offset taken from a whole-ms
 * wall clock at the welcome: up to 1 ms each way, plus the time between the
 * client's reading at dispatch and the handler's (same tick, sub-ms).
 */
const GRANULARITY_MS = 2;

/** A telemetry ingest of the test's own: every POSTed body, parsed. */
async function telemetrySink(): Promise<{ url: string; reports: SliReport[]; close(): Promise<void> }> {
  const reports: SliReport[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const parsed = sliReportSchema.safeParse(JSON.parse(body));
      // Every report a client sends must match the documented schema.
      if (!parsed.success) throw new Error(`invalid report: ${body.slice(0, 300)}`);
      reports.push(parsed.data);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/telemetry/client`,
    reports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Rig {
  dev: DevServer;
  sink: Awaited<ReturnType<typeof telemetrySink>>;
  org: string;
  publish(extra?: { ts?: number }): RealtimeEvent;
  client(extra?: Partial<RealtimeOptions>): RealtimeClient;
}

let orgs = 0;
async function rig(): Promise<Rig> {
  const dev = closing(
    await startDevServer({ heartbeatMs: 500, batchWindowMs: { min: 1, max: 5 }, pollWaitSeconds: 2 }),
  );
  const sink = closing(await telemetrySink());
  const org = `org_sli_${++orgs}`;
  return {
    dev,
    sink,
    org,
    publish: (extra = {}) =>
      dev.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated', ...extra }),
    client: (extra = {}) =>
      closing(
        createRealtime({
          url: dev.url,
          scope: { orgId: org, userId: 'u_1' },
          transports: ['websocket'],
          platform: { WebSocket: WebSocket as never },
          auth: { getToken: () => dev.issueToken(org, 'u_1') },
          leader: { strategy: 'none' },
          devtools: false,
          backoff: { baseMs: 10, capMs: 50 },
          telemetry: { sampleRate: 1, intervalMs: 1000, url: sink.url },
          ...extra,
        }),
      ),
  };
}

/** Records, per event handed to the handler, `Date.now() - ts`: the ground truth of its delivery latency. */
function recordLatency(rt: RealtimeClient): { seqs: number[]; latencies: number[] } {
  const seqs: number[] = [];
  const latencies: number[] = [];
  rt.subscribe('tasks', (events) => {
    const now = Date.now();
    for (const e of events) {
      seqs.push(e.seq);
      latencies.push(now - e.ts);
    }
  });
  return { seqs, latencies };
}

/** The quantile at rank ⌊q·(n−1)⌋ of the sorted values: the rank QuantileSketch reads. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/** Closes `rt` and returns the state of that moment and the report its close sent. */
async function finalReport(rig: Rig, rt: RealtimeClient) {
  const state = rt.getState();
  const closedAt = Date.now();
  // Synchronously up to the report: close() builds it in this tick, or,
  // with an interval's report in flight, once that one settled. Either way
  // it is the tab's last, and the only one assembled at or after closedAt.
  const closed = rt.close();
  const ofTab = () => rig.sink.reports.filter((r) => r.tabId === state.tabId);
  await until(() => ofTab().some((r) => r.sentAt >= closedAt), 3000, 'the report sent by close()');
  await closed;
  return { state, report: ofTab().at(-1)! };
}

/**
 * The offset the client estimates at the welcome is `serverTime + connectMs/2
 * − now`; on one machine the true offset is 0, so every sample may be off by
 * up to half the connect. The connect is part of the time from `connecting`
 * to `connected`, which the test measures: that bounds it. (`connectMs`
 * leaves out the transport's lazy load, which this span holds: a first
 * connect timed with it read about 25 ms high here, and
 * test/unit/connection/connect-time-after-fallback.test.ts keeps it out.)
 */
function connectSpan(rt: RealtimeClient): () => number {
  let from: number | undefined;
  let to: number | undefined;
  rt.on('statechange', (s) => {
    if (s.status === 'connecting' && from === undefined) from = performance.now();
    if (s.status === 'connected' && to === undefined) to = performance.now();
  });
  return () => (to ?? Number.NaN) - (from ?? Number.NaN);
}

function expectQuantilesMatch(
  report: SliReport['sli']['eventDeliveryLatencyMs'],
  truth: number[],
  slackMs: number,
) {
  expect(report).toBeDefined();
  const sketch = sketchFromJSON(report);
  expect(sketch.count).toBe(truth.length);
  for (const q of [0.5, 0.95, 0.99]) {
    const want = quantile(truth, q);
    const got = sketch.quantile(q)!;
    // Each sample is within slackMs of its truth, so each order statistic is
    // too; the sketch reads that within α of it.
    const tolerance = ALPHA * (want + slackMs) + slackMs;
    expect(Math.abs(got - want), `p${q * 100}: reported ${got}, ground truth ${want}`).toBeLessThanOrEqual(
      tolerance,
    );
  }
}

describe('delivery latency: reported quantiles against the handler-measured ground truth', () => {
  it('events stamped 0 to 900 ms before they are published', async () => {
    const r = await rig();
    const rt = r.client();
    const span = connectSpan(rt);
    const { seqs, latencies } = recordLatency(rt);
    await until(() => rt.getState().status === 'connected' && rt.getState().sli.measured, 5000, 'connected');
    // Stamps go back up to 900 ms: the subscription must be older than that,
    // or the docs have the sample count from the subscription instead.
    await sleep(1000);
    // A spread of latencies, so that p50/p95/p99 differ and the 1 % matters.
    const N = 200;
    for (let i = 0; i < N; i++) r.publish({ ts: Date.now() - ((i * 37) % 901) });
    await until(() => seqs.length === N, 5000, `${N} events`);
    const { report, state } = await finalReport(r, rt);

    const slack = GRANULARITY_MS + span() / 2;
    expect(span()).toBeLessThan(1000);
    expectQuantilesMatch(report.sli.eventDeliveryLatencyMs, latencies, slack);
    // The per-service p95 (rounded) and the state's figures say the same.
    const p95 = quantile(latencies, 0.95);
    expect(Math.abs(report.byService.tasks!.p95LatencyMs! - p95)).toBeLessThanOrEqual(
      ALPHA * (p95 + slack) + slack + 0.5,
    );
    expect(report.byService.tasks!.delivered).toBe(N);
    expect(state.byServiceDelivered.tasks).toBe(N);
  });

  it('a 150 ms delay injected on the server shows in the reported latency', async () => {
    const r = await rig();
    const rt = r.client();
    const span = connectSpan(rt);
    const { seqs, latencies } = recordLatency(rt);
    await until(() => rt.getState().status === 'connected' && rt.getState().sli.measured, 5000, 'connected');
    // After the welcome: the offset was estimated on an undelayed connect.
    r.dev.faults.delay(150);
    const N = 40;
    for (let i = 0; i < N; i++) {
      r.publish();
      if (i % 10 === 9) await sleep(20);
    }
    await until(() => seqs.length === N, 5000, `${N} events`);
    const { report } = await finalReport(r, rt);

    // Every event waited the 150 ms (plus the batch window): so did the truth.
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(150);
    const sketch = sketchFromJSON(report.sli.eventDeliveryLatencyMs);
    expect(sketch.quantile(0.5)!).toBeGreaterThanOrEqual(150 - GRANULARITY_MS - span() / 2);
    expectQuantilesMatch(report.sli.eventDeliveryLatencyMs, latencies, GRANULARITY_MS + span() / 2);
  });
});

describe('counts: each made to happen a known number of times', () => {
  it('delivered, duplicates, invalid frames, invalid events, gaps and reconnects', async () => {
    const r = await rig();
    // The injected faults are an error rate far above 5 %: the guard would
    // turn realtime off, which is not what is measured here.
    const rt = r.client({ rollback: { errorRate: 1, degradedRate: 1 } });
    const { seqs } = recordLatency(rt);
    await until(() => rt.getState().status === 'connected' && rt.getState().sli.measured, 5000, 'connected');
    const published = Array.from({ length: 10 }, () => r.publish());
    await until(() => seqs.length === 10, 5000, '10 events');
    const raw = (frame: unknown) => r.dev.faults.sendRaw(r.org, JSON.stringify(frame));

    // 4 duplicates: seqs 1..4 again, as a replay overlapping the cursor.
    const DUPLICATES = 4;
    raw({ type: 'batch', events: published.slice(0, DUPLICATES), after: { tasks: 0 }, cursor: { tasks: 4 } });
    // 3 frames that are no frame.
    const INVALID_FRAMES = 3;
    r.dev.faults.sendRaw(r.org, 'not json');
    r.dev.faults.sendRaw(r.org, '{"type":"batch","events":[');
    r.dev.faults.sendRaw(r.org, '{"type":"nonsense"}');
    // 2 events outside their batch's (after, cursor]: dropped as invalid.
    const INVALID_EVENTS = 2;
    const stray = (seq: number) => ({ ...published[9]!, seq, eventId: `stray_${seq}` });
    raw({ type: 'batch', events: [stray(11), stray(12)], after: { tasks: 10 }, cursor: { tasks: 10 } });
    await until(
      () =>
        rt.getState().byServiceSuppressed.tasks === DUPLICATES + INVALID_EVENTS &&
        rt.getState().counters.invalidFrames === INVALID_FRAMES,
      3000,
      'the injected frames counted',
    );

    // 3 cuts, each waited out until the client is welcomed again.
    const KILLS = 3;
    for (let i = 1; i <= KILLS; i++) {
      r.dev.faults.dropConnections();
      await until(
        () => rt.getState().counters.reconnects === i && rt.getState().status === 'connected',
        5000,
        `reconnect ${i}`,
      );
    }
    // 1 gap: a batch that continues from seq 12 while the client holds 10.
    // Over a stream, the replay it asks for is a reconnect.
    const GAPS = 1;
    raw({ type: 'batch', events: [], after: { tasks: 12 }, cursor: { tasks: 12 } });
    await until(
      () => rt.getState().counters.gaps === GAPS && rt.getState().counters.reconnects === KILLS + GAPS,
      5000,
      'the gap and its replay',
    );
    await until(() => rt.getState().status === 'connected', 5000, 'connected after the replay');
    for (let i = 0; i < 5; i++) r.publish();
    await until(() => seqs.length === 15, 5000, '15 events');
    await sleep(100);
    const { report, state } = await finalReport(r, rt);

    expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(state.counters).toMatchObject({
      gaps: GAPS,
      invalidFrames: INVALID_FRAMES,
      reconnects: KILLS + GAPS,
      failedConnects: 0,
    });
    expect(report.sli).toMatchObject({
      gaps: GAPS,
      invalidFrames: INVALID_FRAMES,
      reconnects: KILLS + GAPS,
      droppedEvents: INVALID_EVENTS,
    });
    expect(report.byService.tasks).toMatchObject({ delivered: 15, suppressed: DUPLICATES + INVALID_EVENTS });
    expect(state.byServiceReconnects.tasks).toBe(KILLS + GAPS);
    // One latency sample per event handed to the handler, no more.
    expect(sketchFromJSON(report.sli.eventDeliveryLatencyMs).count).toBe(15);
    expect(report.isLeader).toBe(true);
  });
});

describe('availability: a known outage in the circuit-open time', () => {
  it('a 2 s outage reads as about 2 s of circuit open, no more, no less', async () => {
    const r = await rig();
    // One failure opens the breaker (the default is 3): then the circuit is
    // open from the first failed attempt to the welcome after the outage,
    // which is the outage itself. Short cool-downs: the probe after the
    // restart comes within 100 ms.
    // The guard at its defaults: refused connects are no errors of its rate
    // (a restart trips nothing), and 2 s open is far below circuitOpenMs.
    const rt = r.client({
      circuit: { failureThreshold: 1, cooldownMs: 50, maxCooldownMs: 100 },
    });
    recordLatency(rt);
    await until(() => rt.getState().status === 'connected' && rt.getState().sli.measured, 5000, 'connected');
    await sleep(500);
    const OUTAGE_MS = 2000;
    let openedAt: number | undefined;
    let closedAt: number | undefined;
    rt.on('statechange', (s) => {
      if (s.circuit.state !== 'closed') openedAt ??= performance.now();
      else if (openedAt !== undefined) closedAt ??= performance.now();
    });
    const downAt = performance.now();
    await r.dev.stop();
    await sleep(OUTAGE_MS);
    await r.dev.start();
    const upAt = performance.now();
    await until(() => rt.getState().status === 'connected', 5000, 'connected again');
    await sleep(300);
    const { report } = await finalReport(r, rt);

    const outage = upAt - downAt;
    // Open time as reported: the share of the watched time (the collector's
    // life, `windowMs`) that the circuit was open.
    const reportedOpenMs = (report.sli.circuitOpenPercent / 100) * report.windowMs;
    // The client's own view of the open time, as statechange showed it.
    expect(openedAt).toBeDefined();
    expect(closedAt).toBeDefined();
    expect(Math.abs(reportedOpenMs - (closedAt! - openedAt!))).toBeLessThan(50);
    // Against the outage: opened at most a failed attempt after it began
    // (backoff ≤ 50 ms, a refused connect), closed at most a cool-down
    // (≤ 100 ms) and a connect after it ended; 300 ms each way for a loaded
    // 2-core machine.
    expect(reportedOpenMs).toBeGreaterThan(outage - 300);
    expect(reportedOpenMs).toBeLessThan(outage + 300);
    expect(report.sli.reconnects).toBe(1);
    expect(report.health.circuitOpen).toBe(false);
    expect(report.health.lastSuccessAt).toBeGreaterThanOrEqual(Date.now() - (performance.now() - upAt) - 5);
  });
});

describe('several tabs of one sampled browser', () => {
  it('the leader alone reports connection SLIs; each tab its own dispatch SLIs', async () => {
    const r = await rig();
    const browser = closing(
      createFakeBrowser({
        defaults: {
          url: r.dev.url,
          scope: { orgId: r.org, userId: 'u_1' },
          transports: ['websocket'],
          platform: { WebSocket: WebSocket as never },
          auth: { getToken: () => r.dev.issueToken(r.org, 'u_1') },
          backoff: { baseMs: 10, capMs: 50 },
          telemetry: { sampleRate: 1, intervalMs: 1000, url: r.sink.url },
        },
      }),
    );
    const leader = browser.tab();
    const leaderSpan = connectSpan(leader);
    const leaderSeen = recordLatency(leader);
    await until(() => leader.getState().status === 'connected', 5000, 'leader connected');
    const followers = [browser.tab(), browser.tab()];
    const followersSeen = followers.map(recordLatency);
    for (const f of followers)
      await until(() => f.getState().status === 'connected', 5000, 'follower connected');
    await until(() => [leader, ...followers].every((t) => t.getState().sli.measured), 5000, 'measuring');
    await sleep(200);
    const N = 30;
    for (let i = 0; i < N; i++) r.publish();
    await until(
      () => [leaderSeen, ...followersSeen].every((s) => s.seqs.length === N),
      5000,
      `${N} events in every tab`,
    );
    // One reconnect of the browser's connection.
    r.dev.faults.dropConnections();
    await until(() => leader.getState().counters.reconnects === 1, 5000, 'the leader reconnected');
    await until(
      () => followers.every((f) => f.getState().status === 'connected'),
      5000,
      'followers connected',
    );

    const followerReports = [];
    for (const f of followers) followerReports.push((await finalReport(r, f)).report);
    const leaderReport = (await finalReport(r, leader)).report;

    expect(leaderReport.isLeader).toBe(true);
    expect(leaderReport.sli.reconnects).toBe(1);
    for (const [i, report] of followerReports.entries()) {
      expect(report.isLeader).toBe(false);
      // Connection SLIs are the leader's: a follower adds none of them.
      expect(report.sli.reconnects).toBe(0);
      expect(report.sli.circuitOpenPercent).toBe(0);
      expect(report.sli.takeoverTimeMs).toBeUndefined();
      // Its own dispatch: each event once, in this tab.
      expect(report.byService.tasks!.delivered).toBe(N);
      expect(sketchFromJSON(report.sli.eventDeliveryLatencyMs).count).toBe(N);
      // A follower that joined after the welcome takes the leader's offset
      // (its `state` message carries it), so the leader's connect bounds its
      // error too; plus the relay to it, a few ms (20 on a loaded machine).
      expectQuantilesMatch(
        report.sli.eventDeliveryLatencyMs,
        followersSeen[i]!.latencies,
        GRANULARITY_MS + leaderSpan() / 2 + 20,
      );
    }
    expect(leaderReport.byService.tasks!.delivered).toBe(N);
    expect(sketchFromJSON(leaderReport.sli.eventDeliveryLatencyMs).count).toBe(N);
    // Three tabs, three reports, every event once in each: the browser's
    // N events are 3·N samples, as the docs say (per tab, its dispatch).
    const total = [leaderReport, ...followerReports].reduce(
      (sum, report) => sum + sketchFromJSON(report.sli.eventDeliveryLatencyMs).count,
      0,
    );
    expect(total).toBe(3 * N);
  });
});
