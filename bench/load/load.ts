/**
 * Load bench (seed 000 "1000 tabs across 100 orgs", seed 002 catch-up and
 * broadcast). Run through `node bench/load/run.mjs` (`npm run bench:load`),
 * which bundles this file and `server-child.ts` with esbuild and runs this
 * one with `node --expose-gc`.
 *
 * Every tab is a real tabwire core (`createRealtime`) in this Node process.
 * The tabs of one org are one browser: `createFakeBrowser` from
 * tabwire/testing gives them a shared in-memory lock manager, BroadcastChannel
 * hub and localStorage. They connect over real WebSocket (`ws`) or long-poll
 * (Node's fetch) to the dev server, which runs in a child process
 * (`server-child.ts`) on 127.0.0.1 and publishes at a steady rate per org.
 * Nothing leaves loopback; every loop is bounded in count and in time.
 *
 * Prints Markdown tables. Exits non-zero when a run drops or repeats an event
 * (seq holes or duplicates in any tab), when the elected run does not hold
 * exactly one connection per org at the server (or an org has two leaders),
 * when the million-event client is unbounded or saw a gap, or when a seed 002
 * target is missed (catch-up p95, broadcast p95 at 200 × 10,000, all delivered).
 */
import { type ChildProcess, fork } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { DevConnectionInfo, DevServerMetrics, DevServerOptions } from '../../src/devserver/types';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { createFakeBrowser, createMemoryBackend, type FakeBrowser } from '../../src/testing/index';
import type { ServerCommand, SteadyResult } from './server-child';
import {
  fmtInt,
  fmtKB,
  fmtMB,
  fmtMs,
  MsHistogram,
  quantile,
  SEED002,
  SeqRecord,
  seed002Verdicts,
} from './stats';

// ---- knobs (env overrides for a quicker or longer run; defaults fit ~2 minutes on 2 cores) ----

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const value = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const ORGS = num('LOAD_ORGS', 100);
const TABS_PER_ORG = num('LOAD_TABS_PER_ORG', 10);
const RATE_PER_ORG = num('LOAD_RATE_PER_ORG', 2);
const STEADY_MS = num('LOAD_STEADY_MS', 20_000);
const RAMP_MS = num('LOAD_RAMP_MS', 3_000);
const LP_ORGS = num('LOAD_LP_ORGS', 100);
const LP_TABS_PER_ORG = num('LOAD_LP_TABS_PER_ORG', 10);
const LP_STEADY_MS = num('LOAD_LP_STEADY_MS', 15_000);
const LP_CONTROL_STEADY_MS = num('LOAD_LP_CONTROL_STEADY_MS', 10_000);
const HEARTBEAT_MS = 5_000;
const CATCHUP_EVENTS = 120;
const CATCHUP_ROUNDS = num('LOAD_CATCHUP_ROUNDS', 10);
const BCAST_SUBSCRIBERS = num('LOAD_BCAST_SUBSCRIBERS', 200);
const BCAST_MESSAGES = num('LOAD_BCAST_MESSAGES', 10_000);
const BCAST_RATE = num('LOAD_BCAST_RATE', 1_000);
const MEMORY_EVENTS = 1_000_000;
const MEMORY_BATCH = 100;
/** Bounds of the waits: connecting all tabs, draining after the last publish. */
const CONNECT_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 10_000;

const benchStart = performance.now();
const failures: string[] = [];

// ---- heap ----

const gc = (globalThis as { gc?: () => void }).gc;
async function heapUsed(): Promise<number> {
  // Let closed sockets and pending microtasks settle before collecting.
  await sleep(50);
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every `everyMs` until it is true or `timeoutMs` passed; returns whether it became true. */
async function waitFor(done: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (done()) return true;
    await sleep(everyMs);
  }
  return done();
}

// ---- the dev server in its child process ----

class ServerProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;

  constructor() {
    const here = dirname(fileURLToPath(import.meta.url));
    this.child = fork(join(here, 'server-child.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let onReady: () => void = () => {};
    this.ready = new Promise((resolve) => {
      onReady = resolve;
    });
    this.child.on(
      'message',
      (message: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
        if (message.ready) return onReady();
        const waiter = this.pending.get(message.id as number);
        if (!waiter) return;
        this.pending.delete(message.id as number);
        if (message.ok) waiter.resolve(message.result);
        else waiter.reject(new Error(`server child: ${message.error}`));
      },
    );
    this.child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`server child exited (${code})`));
      this.pending.clear();
    });
  }

  request<T>(command: DistributiveOmit<ServerCommand, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...command, id });
    });
  }

  start(options: DevServerOptions): Promise<{ url: string }> {
    return this.request({ cmd: 'start', options });
  }
  metrics(): Promise<DevServerMetrics> {
    return this.request({ cmd: 'metrics' });
  }
  connections(): Promise<DevConnectionInfo[]> {
    return this.request({ cmd: 'connections' });
  }
  async exit(): Promise<void> {
    await Promise.race([this.request({ cmd: 'exit' }).catch(() => {}), sleep(3000)]);
    if (this.child.exitCode === null) this.child.kill();
  }
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ---- tabs ----

interface Tab {
  org: string;
  client: RealtimeClient;
  seqs: SeqRecord;
  /** The org's first tab (opened first: the one that connects in the elected runs). */
  first: boolean;
  subscribedAt: number;
  connectedAt?: number;
}

/** The `ws` WebSocket, as the transports take it (Node 20 has no global one). */
const NodeWebSocket = WebSocket as unknown;

interface TabsRun {
  label: string;
  orgs: number;
  tabsPerOrg: number;
  strategy: 'locks' | 'none';
  transport: 'websocket' | 'long-poll';
  steadyMs: number;
}

interface TabsResult {
  run: TabsRun;
  tabs: number;
  notConnected: number;
  connectionsAtServer: number;
  connectionsAfter: number;
  totalConnections: number;
  leadersPerOrgMax: number;
  subscribe: number[];
  subscribeFirst: number[];
  connectWallMs: number;
  steady: SteadyResult;
  published: number;
  delivery: MsHistogram;
  holes: number;
  duplicates: number;
  stray: number;
  tabsWithLoss: number;
  gaps: number;
  reconnects: number;
  drainMs: number;
  heapPerTab: number;
  heapPerTabEnd: number;
  cpuUserMs: number;
  cpuSystemMs: number;
}

const orgName = (prefix: string, i: number) => `${prefix}_${String(i).padStart(3, '0')}`;

async function runTabs(server: ServerProcess, run: TabsRun): Promise<TabsResult> {
  const { url } = await server.start({ heartbeatMs: HEARTBEAT_MS });
  const prefix = `org_${run.transport === 'websocket' ? 'ws' : 'lp'}_${run.strategy}`;
  const orgs = Array.from({ length: run.orgs }, (_, i) => orgName(prefix, i));
  const heapBefore = await heapUsed();

  const delivery = new MsHistogram();
  const browsers: FakeBrowser[] = orgs.map(() =>
    createFakeBrowser({
      // The memory backend is the fake browser's default server; unused here, every tab overrides it.
      backend: createMemoryBackend({ heartbeatMs: 3_600_000 }),
    }),
  );
  const tabs: Tab[] = [];
  const total = run.orgs * run.tabsPerOrg;
  const connectStart = performance.now();

  // Ramp: tab i belongs to org i % orgs, opened at i × RAMP_MS / total, so
  // every org's first tab opens early and its followers join over the ramp.
  for (let i = 0; i < total; i++) {
    const due = connectStart + (i * RAMP_MS) / total;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const o = i % run.orgs;
    const org = orgs[o] as string;
    const client = browsers[o]!.tab({
      url,
      scope: { orgId: org, userId: 'u_1' },
      transports: [run.transport],
      leader: { strategy: run.strategy },
      auth: { getToken: () => `dev:${org}:u_1` },
      // No sampled SLI reports: requests/s at the server is the transport's alone.
      telemetry: { sampleRate: 0 },
      platform: { WebSocket: NodeWebSocket },
    });
    const tab: Tab = { org, client, seqs: new SeqRecord(), first: i < run.orgs, subscribedAt: 0 };
    tabs.push(tab);
    const off = client.on('statechange', (state) => {
      if (state.status === 'connected' && tab.connectedAt === undefined) {
        tab.connectedAt = performance.now();
        off();
      }
    });
    tab.subscribedAt = performance.now();
    client.subscribe('tasks', (events: RealtimeEvent[]) => {
      const now = Date.now();
      for (const event of events) {
        delivery.add(now - event.ts);
        tab.seqs.add(event.seq);
      }
    });
  }
  const allConnected = await waitFor(
    () => tabs.every((t) => t.connectedAt !== undefined),
    CONNECT_TIMEOUT_MS,
  );
  const connectWallMs = performance.now() - connectStart;
  // Let the last followers' cursor/leader messages settle before events flow.
  await sleep(500);
  const connectionsAtServer = (await server.metrics()).activeConnections;
  const leadersPerOrgMax = Math.max(
    ...orgs.map((org) => tabs.filter((t) => t.org === org && t.client.getState().isLeader).length),
  );
  const heapConnected = await heapUsed();

  const cpuBefore = process.cpuUsage();
  const steady = await server.request<SteadyResult>({
    cmd: 'steady',
    orgs,
    ratePerOrg: RATE_PER_ORG,
    durationMs: run.steadyMs,
  });
  const drainStart = performance.now();
  await waitFor(() => tabs.every((t) => t.seqs.distinct >= (steady.published[t.org] ?? 0)), DRAIN_TIMEOUT_MS);
  // A little longer, so a late duplicate would be seen too.
  await sleep(300);
  const drainMs = performance.now() - drainStart;
  const cpu = process.cpuUsage(cpuBefore);

  const metricsAfter = await server.metrics();
  let holes = 0;
  let duplicates = 0;
  let stray = 0;
  let tabsWithLoss = 0;
  let gaps = 0;
  let reconnects = 0;
  for (const tab of tabs) {
    const check = tab.seqs.check(steady.published[tab.org] ?? 0);
    holes += check.holes;
    duplicates += check.duplicates;
    stray += check.stray;
    if (check.holes + check.duplicates + check.stray > 0) tabsWithLoss++;
    const { counters } = tab.client.getState();
    gaps += counters.gaps;
    reconnects += counters.reconnects;
  }
  const heapEnd = await heapUsed();

  await Promise.all(browsers.map((b) => b.close()));
  await server.request({ cmd: 'close' });

  const latencyOf = (list: Tab[]) =>
    list.filter((t) => t.connectedAt !== undefined).map((t) => (t.connectedAt as number) - t.subscribedAt);
  const subscribe = latencyOf(tabs);
  const subscribeFirst = latencyOf(tabs.filter((t) => t.first));
  return {
    run,
    tabs: tabs.length,
    notConnected: allConnected ? 0 : tabs.filter((t) => t.connectedAt === undefined).length,
    connectionsAtServer,
    connectionsAfter: metricsAfter.activeConnections,
    totalConnections: metricsAfter.totalConnections,
    leadersPerOrgMax,
    subscribe,
    subscribeFirst,
    connectWallMs,
    steady,
    published: Object.values(steady.published).reduce((a, b) => a + b, 0),
    delivery,
    holes,
    duplicates,
    stray,
    tabsWithLoss,
    gaps,
    reconnects,
    drainMs,
    heapPerTab: (heapConnected - heapBefore) / tabs.length,
    heapPerTabEnd: (heapEnd - heapBefore) / tabs.length,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
  };
}

// ---- seed 002: catch-up replay of 120 events ----

interface CatchUpResult {
  rounds: number;
  clientMs: number[];
  serverMs: number[];
  serverEventCounts: number[];
  holes: number;
  duplicates: number;
}

/**
 * Per round: a fresh org and one client (websocket, `strategy: 'none'`),
 * subscribed and connected; the server's listener stops (every connection
 * cut), 120 events are published while it is down, and it listens again.
 * The client reconnects with its cursor (before the 120) and the server
 * replays them. Client figure: from the construction of the WebSocket that
 * got the replay to the 120th event in the handler. Server figure:
 * `metrics().lastCatchUp.durationMs` (the server's own replay time).
 */
async function runCatchUp(server: ServerProcess): Promise<CatchUpResult> {
  const { url } = await server.start({ heartbeatMs: HEARTBEAT_MS });
  const result: CatchUpResult = {
    rounds: 0,
    clientMs: [],
    serverMs: [],
    serverEventCounts: [],
    holes: 0,
    duplicates: 0,
  };
  for (let round = 0; round < CATCHUP_ROUNDS; round++) {
    const org = orgName('org_catchup', round);
    let socketAt = 0;
    let doneAt = 0;
    class StampedWebSocket extends WebSocket {
      constructor(address: string) {
        super(address);
        // Only a socket made before the 120th event: a later reconnect is not the one that got the replay.
        if (doneAt === 0) socketAt = performance.now();
      }
    }
    const seqs = new SeqRecord();
    const client = createRealtime({
      url,
      scope: { orgId: org, userId: 'u_1' },
      transports: ['websocket'],
      leader: { strategy: 'none' },
      auth: { getToken: () => `dev:${org}:u_1` },
      devtools: false,
      telemetry: { sampleRate: 0 },
      backoff: { baseMs: 20, capMs: 100 },
      platform: { WebSocket: StampedWebSocket },
    });
    client.subscribe('tasks', (events) => {
      for (const event of events) seqs.add(event.seq);
      if (doneAt === 0 && seqs.distinct >= CATCHUP_EVENTS) doneAt = performance.now();
    });
    const connected = await waitFor(() => client.getState().status === 'connected', 5_000, 5);
    if (!connected) {
      failures.push(`catch-up round ${round}: client did not connect`);
      await client.close();
      continue;
    }
    await server.request({ cmd: 'stop' });
    await server.request({ cmd: 'burst', orgId: org, count: CATCHUP_EVENTS });
    await server.request({ cmd: 'restart-listener' });
    const complete = await waitFor(() => doneAt !== 0, 5_000, 2);
    await sleep(50);
    const metrics = await server.metrics();
    const check = seqs.check(CATCHUP_EVENTS);
    result.holes += check.holes;
    result.duplicates += check.duplicates + check.stray;
    if (complete) {
      result.clientMs.push(doneAt - socketAt);
      result.rounds++;
    } else
      failures.push(`catch-up round ${round}: only ${seqs.distinct} of ${CATCHUP_EVENTS} events within 5 s`);
    if (metrics.lastCatchUp) {
      result.serverMs.push(metrics.lastCatchUp.durationMs);
      result.serverEventCounts.push(metrics.lastCatchUp.eventCount);
    }
    await client.close();
  }
  await server.request({ cmd: 'close' });
  return result;
}

// ---- seed 002: 200 subscribers × 10,000 messages ----

interface BroadcastResult {
  subscribers: number;
  connected: number;
  connectionsAtServer: number;
  messages: number;
  rate: number;
  publishMs: number;
  wallMs: number;
  deliveries: number;
  latency: MsHistogram;
  holes: number;
  duplicates: number;
  gaps: number;
  resyncs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  quarantines: number;
}

async function runBroadcast(server: ServerProcess): Promise<BroadcastResult> {
  const { url } = await server.start({ heartbeatMs: HEARTBEAT_MS });
  const org = 'org_broadcast';
  const latency = new MsHistogram();
  const clients: { client: RealtimeClient; seqs: SeqRecord }[] = [];
  for (let i = 0; i < BCAST_SUBSCRIBERS; i++) {
    const client = createRealtime({
      url,
      scope: { orgId: org, userId: 'u_1' },
      transports: ['websocket'],
      leader: { strategy: 'none' },
      auth: { getToken: () => `dev:${org}:u_1` },
      devtools: false,
      telemetry: { sampleRate: 0 },
      platform: { WebSocket: NodeWebSocket },
    });
    const seqs = new SeqRecord();
    client.subscribe('tasks', (events) => {
      const now = Date.now();
      for (const event of events) {
        latency.add(now - event.ts);
        seqs.add(event.seq);
      }
    });
    clients.push({ client, seqs });
  }
  await waitFor(() => clients.every((c) => c.client.getState().status === 'connected'), CONNECT_TIMEOUT_MS);
  await sleep(300);
  const connected = clients.filter((c) => c.client.getState().status === 'connected').length;
  const connectionsAtServer = (await server.metrics()).activeConnections;

  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const { elapsedMs: publishMs } = await server.request<{ elapsedMs: number }>({
    cmd: 'paced',
    orgId: org,
    count: BCAST_MESSAGES,
    ratePerSecond: BCAST_RATE,
  });
  await waitFor(() => clients.every((c) => c.seqs.distinct >= BCAST_MESSAGES), DRAIN_TIMEOUT_MS * 3, 100);
  const wallMs = performance.now() - start;
  await sleep(200);
  const cpu = process.cpuUsage(cpuBefore);
  const metrics = await server.metrics();

  let holes = 0;
  let duplicates = 0;
  let gaps = 0;
  let resyncs = 0;
  let deliveries = 0;
  for (const { client, seqs } of clients) {
    const check = seqs.check(BCAST_MESSAGES);
    holes += check.holes;
    duplicates += check.duplicates + check.stray;
    deliveries += seqs.received;
    gaps += client.getState().counters.gaps;
    resyncs += client.getState().counters.resyncs;
  }
  await Promise.all(clients.map((c) => c.client.close()));
  await server.request({ cmd: 'close' });
  return {
    subscribers: BCAST_SUBSCRIBERS,
    connected,
    connectionsAtServer,
    messages: BCAST_MESSAGES,
    rate: BCAST_RATE,
    publishMs,
    wallMs,
    deliveries,
    latency,
    holes,
    duplicates,
    gaps,
    resyncs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    quarantines: metrics.quarantinesTotal,
  };
}

// ---- memory: 1,000,000 events through one client ----

interface MemoryResult {
  at100k: number;
  at1M: number;
  delivered: number;
  ms: number;
  gaps: number;
}

/**
 * One client (`strategy: 'none'`) on the memory backend of tabwire/testing.
 * The batches are sent with `backend.sendRaw` (a `batch` frame each, 100
 * events with unique eventIds, `after`/`cursor` continuing from the previous
 * one) so the backend keeps no log of its own: the heap growth measured is
 * the client's (transport, connection loop, parse, pipeline, dedup window,
 * dispatcher, state store, SLI sketches).
 */
async function runMemory(): Promise<MemoryResult> {
  const backend = createMemoryBackend({ heartbeatMs: 3_600_000 });
  const client = createRealtime({
    url: 'http://tabwire.test/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    // Measuring, so the SLI sketches are part of what must stay bounded (an
    // unsampled tab would not even load them); no reports are sent.
    telemetry: { sampleRate: 0, measure: 'always' },
  });
  let delivered = 0;
  client.subscribe('tasks', (events) => {
    delivered += events.length;
  });
  await waitFor(() => client.getState().status === 'connected', 5_000, 5);
  if (!(await waitFor(() => client.getState().sli.measured, 5_000, 5)))
    throw new Error('memory: the SLI collector did not load');
  const before = await heapUsed();
  let at100k = 0;
  const start = performance.now();
  for (let b = 0; b < MEMORY_EVENTS / MEMORY_BATCH; b++) {
    const first = b * MEMORY_BATCH;
    const now = Date.now();
    const events: RealtimeEvent[] = [];
    for (let i = 1; i <= MEMORY_BATCH; i++) {
      const seq = first + i;
      events.push({
        service: 'tasks',
        entityType: 'task',
        type: 'task.updated',
        eventId: `evt_${seq.toString(36)}_${(seq * 2_654_435_761).toString(36)}`,
        seq,
        ts: now,
        orgId: 'org_test',
        data: { id: `t_${seq % 5000}` },
      });
    }
    backend.sendRaw({
      type: 'batch',
      events,
      after: { tasks: first },
      cursor: { tasks: first + MEMORY_BATCH },
    });
    if ((b + 1) * MEMORY_BATCH === 100_000) at100k = (await heapUsed()) - before;
    // Yield now and then: timers (watchdog, SLI tick) run as they would.
    if (b % 500 === 499) await sleep(0);
  }
  const ms = performance.now() - start;
  const at1M = (await heapUsed()) - before;
  const gaps = client.getState().counters.gaps;
  await client.close();
  return { at100k, at1M, delivered, ms, gaps };
}

// ---- printing ----

function tabsTable(results: TabsResult[]): string[] {
  const head = `| figure | what it means | ${results.map((r) => r.run.label).join(' | ')} |`;
  const rule = `|---|---|${results.map(() => '---:').join('|')}|`;
  const row = (figure: string, meaning: string, cell: (r: TabsResult) => string) =>
    `| ${figure} | ${meaning} | ${results.map(cell).join(' | ')} |`;
  const secs = (r: TabsResult) => r.steady.elapsedMs / 1000;
  const waiters = (r: TabsResult) => r.steady.pollWaiterSamples;
  return [
    head,
    rule,
    row(
      'tabs (orgs × tabs)',
      'tab instances of the core, one fake browser per org',
      (r) => `${fmtInt(r.tabs)} (${r.run.orgs} × ${r.run.tabsPerOrg})`,
    ),
    row('transport · election', '', (r) => `${r.run.transport} · ${r.run.strategy}`),
    row('server connections', '`metrics().activeConnections` once every tab showed `connected`', (r) =>
      fmtInt(r.connectionsAtServer),
    ),
    row('server connections at the end', 'the same after the steady phase', (r) =>
      fmtInt(r.connectionsAfter),
    ),
    row(
      'connections ever welcomed',
      '`metrics().totalConnections`: more than the live count means reconnects or churn',
      (r) => fmtInt(r.totalConnections),
    ),
    row('leaders per org (max)', 'tabs with `isLeader` in one org', (r) =>
      r.run.strategy === 'none' ? 'n/a' : fmtInt(r.leadersPerOrgMax),
    ),
    row('tabs not connected', 'tabs that never showed `connected` within 30 s', (r) =>
      fmtInt(r.notConnected),
    ),
    row(
      'subscribe latency p50',
      "`subscribe()` → the tab's first `status: connected` (followers: the leader's state relayed)",
      (r) => fmtMs(quantile(r.subscribe, 0.5)),
    ),
    row('subscribe latency p99', '', (r) => fmtMs(quantile(r.subscribe, 0.99))),
    row('subscribe latency max', '', (r) => fmtMs(quantile(r.subscribe, 1))),
    row(
      'subscribe latency p50 · p99, first tab of each org',
      'the same for the tab each org opens first (in the elected runs the one that connects to the server)',
      (r) => `${fmtMs(quantile(r.subscribeFirst, 0.5))} · ${fmtMs(quantile(r.subscribeFirst, 0.99))}`,
    ),
    row(
      'open + connect all tabs',
      `tabs opened over a ${RAMP_MS / 1000} s ramp; until the last one is connected`,
      (r) => fmtMs(r.connectWallMs),
    ),
    row(
      'published',
      `events, ${RATE_PER_ORG}/s per org, steady`,
      (r) => `${fmtInt(r.published)} in ${secs(r).toFixed(1)} s`,
    ),
    row(
      'requests/s at the server',
      '`metrics().requestsTotal` delta during the steady phase / its seconds (HTTP requests + WebSocket upgrades)',
      (r) => (r.steady.requestsDelta / secs(r)).toFixed(1),
    ),
    row(
      'long-poll waiter depth max · mean',
      '`metrics().pollWaiters` sampled every 100 ms in the steady phase',
      (r) =>
        r.run.transport === 'long-poll'
          ? `${Math.max(...waiters(r))} · ${(waiters(r).reduce((a, b) => a + b, 0) / Math.max(1, waiters(r).length)).toFixed(1)}`
          : 'n/a',
    ),
    row('deliveries', "events handed to the tabs' handlers (all tabs)", (r) => fmtInt(r.delivery.count)),
    row(
      'delivery latency p50',
      'event `ts` (server `Date.now()` at publish) → tab handler (`Date.now()`), over every delivery in every tab',
      (r) => fmtMs(r.delivery.quantile(0.5)),
    ),
    row('delivery latency p95', '', (r) => fmtMs(r.delivery.quantile(0.95))),
    row('delivery latency p99', '', (r) => fmtMs(r.delivery.quantile(0.99))),
    row('delivery latency p99.9', '', (r) => fmtMs(r.delivery.quantile(0.999))),
    row('delivery latency max', '', (r) => fmtMs(r.delivery.max)),
    row(
      '**dropped**',
      'seqs in 1..N (N = events published to the org) never handed to a tab, summed over tabs; must be 0',
      (r) => `**${fmtInt(r.holes)}**`,
    ),
    row(
      '**duplicated**',
      'seqs handed to a tab more than once (plus any outside 1..N), summed over tabs; must be 0',
      (r) => `**${fmtInt(r.duplicates + r.stray)}**`,
    ),
    row(
      'gaps seen · reconnects',
      "the tabs' `counters.gaps` (holes found and replayed) and `counters.reconnects`",
      (r) => `${fmtInt(r.gaps)} · ${fmtInt(r.reconnects)}`,
    ),
    row('drain', 'last publish → every tab holds all N', (r) => fmtMs(r.drainMs)),
    row(
      'heap per tab',
      '`heapUsed` after gc, all tabs connected minus before any, / tabs (client process; the server is in its own)',
      (r) => fmtKB(r.heapPerTab),
    ),
    row('heap per tab after the run', 'the same after the steady phase, tabs still open', (r) =>
      fmtKB(r.heapPerTabEnd),
    ),
    row(
      'client CPU',
      'user + system of the client process during steady phase + drain / wall seconds (2 cores = 200 %)',
      (r) => `${(((r.cpuUserMs + r.cpuSystemMs) / (r.steady.elapsedMs + r.drainMs)) * 100).toFixed(0)} %`,
    ),
  ];
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const out = (...more: string[]) => {
    lines.push(...more);
    console.log(more.join('\n'));
  };
  out(
    '### Load',
    '',
    `Node ${process.version} · ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} logical CPUs) · ${new Date().toISOString()} · load average at start ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' / ',
      )} (1 / 5 / 15 min; above 2 the machine is shared and the latencies include waiting for a core)`,
    '',
    'Every tab is the real core (`createRealtime`) in one Node process; the tabs of one org are one browser (`createFakeBrowser` from tabwire/testing: shared lock manager, BroadcastChannel hub, localStorage). The dev server runs in a second Node process on 127.0.0.1 (real HTTP and WebSocket via `ws`).',
    '',
  );

  // Memory first, in a quiet process.
  const memory = await runMemory();
  const memoryBounded = memory.at1M < 4 * 1024 * 1024 && memory.at1M < memory.at100k + 2 * 1024 * 1024;
  if (memory.delivered !== MEMORY_EVENTS)
    failures.push(`memory: delivered ${memory.delivered} of ${MEMORY_EVENTS}`);
  if (gc && !memoryBounded) failures.push(`memory: heap growth ${fmtMB(memory.at1M)} not bounded`);
  if (memory.gaps !== 0) failures.push(`memory: ${memory.gaps} gaps`);

  const server = new ServerProcess();
  await server.ready;
  try {
    const elected = await runTabs(server, {
      label: 'elected (`locks`)',
      orgs: ORGS,
      tabsPerOrg: TABS_PER_ORG,
      strategy: 'locks',
      transport: 'websocket',
      steadyMs: STEADY_MS,
    });
    const none = await runTabs(server, {
      label: '`strategy: none`',
      orgs: ORGS,
      tabsPerOrg: TABS_PER_ORG,
      strategy: 'none',
      transport: 'websocket',
      steadyMs: STEADY_MS,
    });
    const longPoll = await runTabs(server, {
      label: 'long-poll, elected',
      orgs: LP_ORGS,
      tabsPerOrg: LP_TABS_PER_ORG,
      strategy: 'locks',
      transport: 'long-poll',
      steadyMs: LP_STEADY_MS,
    });
    // Control: long-poll with one tab per org (no followers), to tell the transport's own
    // latency from what the followers add to it.
    const longPollAlone = await runTabs(server, {
      label: 'long-poll, 1 tab/org (control)',
      orgs: LP_ORGS,
      tabsPerOrg: 1,
      strategy: 'locks',
      transport: 'long-poll',
      steadyMs: LP_CONTROL_STEADY_MS,
    });
    const results = [elected, none, longPoll, longPollAlone];
    for (const r of results) {
      if (r.holes > 0) failures.push(`${r.run.label}: ${r.holes} dropped`);
      if (r.duplicates + r.stray > 0) failures.push(`${r.run.label}: ${r.duplicates + r.stray} duplicated`);
      if (r.notConnected > 0) failures.push(`${r.run.label}: ${r.notConnected} tabs never connected`);
      if (r.run.strategy === 'locks' && r.leadersPerOrgMax !== 1)
        failures.push(`${r.run.label}: ${r.leadersPerOrgMax} leaders in one org`);
    }
    if (elected.connectionsAtServer !== ORGS || elected.connectionsAfter !== ORGS)
      failures.push(
        `elected run: ${elected.connectionsAtServer} / ${elected.connectionsAfter} server connections, expected ${ORGS}`,
      );
    if (longPoll.connectionsAtServer !== LP_ORGS)
      failures.push(`long-poll run: ${longPoll.connectionsAtServer} server connections, expected ${LP_ORGS}`);

    out(
      `#### ${fmtInt(ORGS * TABS_PER_ORG)} tabs across ${ORGS} orgs, elected vs. one connection per tab, and long-poll`,
      '',
      `Dev server: \`heartbeatMs: ${HEARTBEAT_MS}\`, default batch window (30-150 ms adaptive). Each tab subscribes to \`tasks\`; ${RATE_PER_ORG} events/s per org are published (round-robin, evenly spread) for ${STEADY_MS / 1000} s (long-poll: ${LP_STEADY_MS / 1000} s) once every tab is connected (long-poll control: ${LP_CONTROL_STEADY_MS / 1000} s).`,
      '',
      ...tabsTable(results),
      '',
    );

    const catchUp = await runCatchUp(server);
    const broadcast = await runBroadcast(server);

    const catchP95 = quantile(catchUp.clientMs, 0.95);
    const bcastP95 = broadcast.latency.quantile(0.95);
    // The seed 002 targets set the exit code too, and pass only at the scale.
    const seed002 = seed002Verdicts({
      catchUpRounds: catchUp.rounds,
      catchUpRoundsPlanned: CATCHUP_ROUNDS,
      catchUpMs: catchUp.clientMs,
      catchUpHoles: catchUp.holes,
      catchUpDuplicates: catchUp.duplicates,
      broadcastSubscribers: broadcast.subscribers,
      broadcastConnected: broadcast.connected,
      broadcastMessages: broadcast.messages,
      broadcastDeliveries: broadcast.deliveries,
      broadcastP95: bcastP95,
      broadcastHoles: broadcast.holes,
      broadcastDuplicates: broadcast.duplicates,
    });
    failures.push(...seed002.failures);
    const verdict = (pass: boolean) => (pass ? 'pass' : '**FAIL**');
    out(
      '#### Catch-up replay and broadcast',
      '',
      '| figure | what it means | measured | target |',
      '|---|---|---:|---|',
      `| catch-up of ${CATCHUP_EVENTS} events, p50 · p95 · max (client) | ${catchUp.rounds} rounds, each a fresh org and client (websocket): the server stops listening, ${CATCHUP_EVENTS} events are published, it listens again; from the construction of the WebSocket that gets the replay to the ${CATCHUP_EVENTS}th event in the handler | ${fmtMs(quantile(catchUp.clientMs, 0.5))} · ${fmtMs(catchP95)} · ${fmtMs(quantile(catchUp.clientMs, 1))} | p95 < 1,500 ms: ${verdict(seed002.catchUp)} |`,
      `| catch-up, server side, p50 · max | \`metrics().lastCatchUp.durationMs\` (events replayed: ${[...new Set(catchUp.serverEventCounts)].join(', ')}) | ${fmtMs(quantile(catchUp.serverMs, 0.5))} · ${fmtMs(quantile(catchUp.serverMs, 1))} | — |`,
      `| catch-up dropped · duplicated | over all rounds | ${catchUp.holes} · ${catchUp.duplicates} | 0 · 0: ${verdict(seed002.catchUpClean)} |`,
      `| broadcast subscribers | clients of one org, \`strategy: 'none'\`, websocket; connected · \`activeConnections\` | ${broadcast.connected} · ${broadcast.connectionsAtServer} | ${broadcast.subscribers} |`,
      `| broadcast messages | published at a steady ${fmtInt(broadcast.rate)}/s (the server batches them); publishing took | ${fmtInt(broadcast.messages)} in ${(broadcast.publishMs / 1000).toFixed(1)} s | ${fmtInt(BCAST_MESSAGES)} |`,
      `| broadcast deliveries | events handed to handlers, all clients; wall time from the first publish to the last client complete | ${fmtInt(broadcast.deliveries)} in ${(broadcast.wallMs / 1000).toFixed(1)} s | ${fmtInt(broadcast.subscribers * broadcast.messages)} |`,
      `| broadcast latency p50 · **p95** · p99 · max | event \`ts\` → handler, over every delivery | ${fmtMs(broadcast.latency.quantile(0.5))} · **${fmtMs(bcastP95)}** · ${fmtMs(broadcast.latency.quantile(0.99))} · ${fmtMs(broadcast.latency.max)} | p95 < 600 ms with ${SEED002.broadcastSubscribers} × ${fmtInt(SEED002.broadcastMessages)}, all delivered: ${verdict(seed002.broadcast)} |`,
      `| broadcast dropped · duplicated | seq holes / repeats summed over clients; gaps seen · resyncs; server quarantines | ${broadcast.holes} · ${broadcast.duplicates}; ${broadcast.gaps} · ${broadcast.resyncs}; ${broadcast.quarantines} | 0 · 0: ${verdict(seed002.broadcastClean)} |`,
      `| client CPU during broadcast | user + system of the client process / wall (2 cores = 200 %) | ${(((broadcast.cpuUserMs + broadcast.cpuSystemMs) / broadcast.wallMs) * 100).toFixed(0)} % | — |`,
      '',
    );
  } finally {
    await server.exit();
  }

  out(
    '#### Memory: 1,000,000 events through one client',
    '',
    '| figure | what it means | measured | budget |',
    '|---|---|---:|---|',
    `| heap growth after 100,000 events | one client (\`createRealtime\`, memory backend of tabwire/testing), batches of ${MEMORY_BATCH} with unique eventIds; \`heapUsed\` after two \`gc()\` minus before, client still open | ${fmtMB(memory.at100k)} | — |`,
    `| heap growth after 1,000,000 events | the same; bounded = no rise with traffic (dedup window 4,096 keys; the client measures SLIs, whose sketches have a fixed size) | **${fmtMB(memory.at1M)}** | < 4 MB and ≤ the 100k figure + 2 MB: ${gc ? (memoryBounded ? 'pass' : '**FAIL**') : 'not enforced without --expose-gc'} |`,
    `| events delivered · gaps · time | all delivered to the one subscriber | ${fmtInt(memory.delivered)} · ${memory.gaps} · ${(memory.ms / 1000).toFixed(1)} s | ${fmtInt(MEMORY_EVENTS)} · 0 |`,
    '',
    `Whole bench: ${((performance.now() - benchStart) / 1000).toFixed(1)} s wall; load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}.`,
  );
  if (failures.length > 0) {
    out('', `**Failed:** ${failures.join('; ')}`);
    process.exitCode = 1;
  }
}

// A hard stop, whatever happens.
const watchdog = setTimeout(
  () => {
    console.error('load bench: over its time limit, stopping');
    process.exit(2);
  },
  num('LOAD_TIME_LIMIT_MS', 170_000),
);
watchdog.unref();

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    // Leftover timers of closed clients must not keep the process alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  });
