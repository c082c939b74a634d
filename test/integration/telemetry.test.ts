import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import { type SliReport, sliReportSchema } from '../../src/observability/telemetry-payload';
import { sleep, until } from './devserver-helpers';

// End to end in Node: a sampled client POSTs its SLI report (fetch, every
// `intervalMs`) to the dev server's `/telemetry/client`; an unsampled one
// sends nothing at all.

let server: DevServer;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  server = await startDevServer({ heartbeatMs: 500, batchWindowMs: { min: 5, max: 20 } });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

function client(orgId: string, sampleRate: number): RealtimeClient {
  const rt = createRealtime({
    url: server.url,
    scope: { orgId, userId: 'u_1' },
    transports: ['websocket'],
    auth: { getToken: () => server.issueToken(orgId, 'u_1') },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate, intervalMs: 1000, url: `${server.origin}/telemetry/client` },
    platform: { WebSocket },
  });
  clients.push(rt);
  return rt;
}

const reportsOf = (orgId: string): unknown[] =>
  server.telemetry.filter((r) => (r as { orgId?: unknown }).orgId === orgId);

function publish(orgId: string, n: number): void {
  for (let i = 0; i < n; i++)
    server.publish(orgId, { service: 'tasks', entityType: 'task', type: 'task.updated' });
}

async function connectAndReceive(rt: RealtimeClient, orgId: string, n: number): Promise<number[]> {
  const seqs: number[] = [];
  rt.subscribe('tasks', (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  await until(() => rt.getState().status === 'connected', 5000, 'connected');
  publish(orgId, n);
  await until(() => seqs.length >= n, 5000, `${n} events`);
  return seqs;
}

describe('SLI telemetry to the dev server', () => {
  it('sampleRate 1: a valid realtime_sli report with the service figures arrives within the interval', async () => {
    const orgId = 'org_telemetry_on';
    const rt = client(orgId, 1);
    expect(rt.getState().sli.sampled).toBe(true);
    const subscribedAt = performance.now();
    await connectAndReceive(rt, orgId, 20);

    // A report that covers the events: intervals keep ticking every 1 s, so
    // wait for one whose byService shows all 20 (an early tick may predate them).
    await until(
      () => reportsOf(orgId).some((r) => ((r as SliReport).byService?.tasks?.delivered ?? 0) >= 20),
      5000,
      'a telemetry report with 20 delivered tasks events',
    );
    const elapsed = performance.now() - subscribedAt;
    expect(elapsed).toBeLessThan(6000);

    const raw = reportsOf(orgId).find((r) => ((r as SliReport).byService?.tasks?.delivered ?? 0) >= 20);
    const parsed = sliReportSchema.safeParse(raw);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const report = parsed.data as SliReport;
    expect(report.type).toBe('realtime_sli');
    expect(report.v).toBe(1);
    expect(report.orgId).toBe(orgId);
    expect(report.tabId).toBe(rt.getState().tabId);
    expect(report.isLeader).toBe(true);
    expect(report.health.status).toBe('connected');
    expect(report.byService.tasks!.delivered).toBe(20);
    expect(report.byService.tasks!.suppressed).toBe(0);
    expect(report.byService.tasks!.p95LatencyMs).toEqual(expect.any(Number));
    expect(report.sli.eventDeliveryLatencyMs).toBeDefined();
    // Every report parses, not only the one we looked at.
    for (const r of reportsOf(orgId)) expect(sliReportSchema.safeParse(r).success).toBe(true);
  });

  it('sampleRate 0: nothing is sent over the same time', async () => {
    const orgId = 'org_telemetry_off';
    const before = server.telemetry.length;
    const rt = client(orgId, 0);
    expect(rt.getState().sli.sampled).toBe(false);
    await connectAndReceive(rt, orgId, 20);
    // Three intervals' worth and more.
    await sleep(3500);
    expect(reportsOf(orgId)).toEqual([]);
    // Nothing under any other org either (the first test's client flushed on
    // close; its last report may still land, so it is left out).
    const others = () =>
      server.telemetry.slice(before).filter((r) => (r as SliReport).orgId !== 'org_telemetry_on');
    expect(others()).toEqual([]);
    await rt.close();
    // Not even a final flush on close.
    await sleep(200);
    expect(others()).toEqual([]);
  });
});
