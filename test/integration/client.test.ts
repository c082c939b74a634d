import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeOptions } from '../../src/options';
import { record, sleep, until } from './devserver-helpers';

// End to end: the real client against the real dev server over 127.0.0.1,
// once per transport. Every test checks the received seqs of a service are
// exactly 1..N: nothing lost, nothing twice, in order.

let server: DevServer;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  server = await startDevServer({ heartbeatMs: 500, batchWindowMs: { min: 5, max: 20 }, pollWaitSeconds: 2 });
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

const transports = ['websocket', 'sse', 'long-poll'] as const;
let orgCounter = 0;

function client(
  transport: (typeof transports)[number] | Array<(typeof transports)[number]>,
  orgId: string,
  extra: Partial<RealtimeOptions> = {},
): RealtimeClient {
  const rt = createRealtime({
    url: server.url,
    scope: { orgId, userId: 'u_1' },
    transports: Array.isArray(transport) ? transport : [transport],
    auth: { getToken: () => server.issueToken(orgId, 'u_1') },
    backoff: { baseMs: 50, capMs: 300 },
    circuit: { failureThreshold: 50, cooldownMs: 100, maxCooldownMs: 1000 },
    devtools: false,
    telemetry: { sampleRate: 0 }, // sampling is random (2 %): tests decide it
    platform: { WebSocket },
    ...extra,
  });
  clients.push(rt);
  return rt;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const publish = (orgId: string, n: number, service = 'tasks', propertyId?: string) => {
  for (let i = 0; i < n; i++)
    server.publish(orgId, { service, entityType: 'task', type: 'task.updated', propertyId });
};

describe.each(transports)('client over %s', (transport) => {
  const org = () => `org_${transport}_${++orgCounter}`;

  it('stays connected while idle for many heartbeats (the server heartbeats every 500 ms)', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const disconnects: string[] = [];
    rt.on('disconnected', ({ error }) => disconnects.push(error.code));
    const seqs = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    // Long-poll waits 25 s for a poll's answer, longer than two heartbeats:
    // the poll itself is the heartbeat there, and must not be ended as dead.
    await sleep(2500);
    expect(disconnects).toEqual([]);
    expect(rt.getState()).toMatchObject({
      status: 'connected',
      counters: { reconnects: 0, failedConnects: 0 },
    });
    publish(orgId, 3);
    await until(() => seqs.length >= 3, 8000, '3 events');
    expect(seqs).toEqual(range(3));
  });

  it('receives published events in order, exactly once', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const seqs = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    expect(rt.getState().transport).toBe(transport);
    publish(orgId, 30);
    await until(() => seqs.length >= 30, 8000, '30 events');
    expect(seqs).toEqual(range(30));
    expect(rt.getState().cursor.tasks).toBe(30);
  });

  it('survives a server restart with events published during the outage: zero lost, zero duplicated', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const seqs = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    publish(orgId, 5);
    await until(() => seqs.length >= 5, 8000, 'first 5');
    await server.stop();
    publish(orgId, 5);
    await sleep(200);
    await server.start();
    publish(orgId, 5);
    await until(() => seqs.length >= 15, 10_000, 'all 15');
    await sleep(100);
    expect(seqs).toEqual(range(15));
    expect(rt.getState().counters.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('refreshes an expired token and continues from its cursor', async () => {
    const orgId = org();
    let tokens = 0;
    const rt = client(transport, orgId, {
      auth: {
        getToken: () => {
          tokens++;
          return server.issueToken(orgId, 'u_1');
        },
      },
    });
    const seqs = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    publish(orgId, 3);
    await until(() => seqs.length >= 3, 8000, 'first 3');
    server.faults.expireTokens();
    publish(orgId, 3);
    await until(() => seqs.length >= 6, 8000, 'all 6');
    expect(seqs).toEqual(range(6));
    expect(tokens).toBeGreaterThanOrEqual(2);
  });

  it('stops for good when access is revoked (403)', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const fallbacks: string[] = [];
    rt.on('fallback', (f) => fallbacks.push(f.reason));
    record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    server.faults.revokeUser(orgId, 'u_1');
    await until(() => rt.getState().status === 'disabled', 8000, 'disabled');
    expect(rt.getState().disabledReason).toBe('forbidden');
    expect(fallbacks).toEqual(['forbidden']);
    const before = server.metrics().totalConnections;
    await sleep(500);
    expect(server.metrics().totalConnections).toBe(before);
    expect(server.connections().filter((c) => c.orgId === orgId)).toEqual([]);
  });

  it('survives malformed frames', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const seqs = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    server.faults.sendRaw(orgId, '{"type":"batch","events":[');
    server.faults.sendRaw(orgId, '{"type":"batch","events":[{"seq":"NaN"}],"after":{},"cursor":{}}');
    publish(orgId, 3);
    await until(() => seqs.length >= 3, 8000, '3 events');
    expect(seqs).toEqual(range(3));
    if (transport !== 'long-poll') expect(rt.getState().counters.invalidFrames).toBeGreaterThanOrEqual(2);
  });

  it('adds a service and changes the property filter in place, keeping the connection id', async () => {
    const orgId = org();
    const rt = client(transport, orgId);
    const tasks = record(rt, 'tasks');
    await until(() => rt.getState().status === 'connected', 8000, 'connected');
    const connectionId = rt.getState().connectionId;
    const finance = record(rt, 'finance');
    await until(
      () =>
        server.connections().some((c) => c.connectionId === connectionId && c.services.includes('finance')),
      8000,
      'finance on the server',
    );
    publish(orgId, 2, 'finance');
    await until(() => finance.length >= 2, 8000, 'finance events');
    rt.setPropertyFilter('prop_1');
    await until(
      () =>
        server.connections().some((c) => c.connectionId === connectionId && c.propertyIds?.[0] === 'prop_1'),
      8000,
      'filter on the server',
    );
    publish(orgId, 1, 'tasks', 'prop_2');
    publish(orgId, 1, 'tasks', 'prop_1');
    await until(() => tasks.length >= 1, 8000, 'prop_1 event');
    await sleep(100);
    expect(tasks).toEqual([2]);
    expect(finance).toEqual([1, 2]);
    expect(rt.getState().connectionId).toBe(connectionId);
    expect(rt.getState().counters.reconnects).toBe(0);
  });
});

describe('fallback chain', () => {
  it('falls back to SSE when the WebSocket upgrade is refused, and keeps SSE', async () => {
    server.faults.refuseWebSocket(true);
    try {
      const orgId = `org_fallback_${++orgCounter}`;
      const rt = client(['websocket', 'sse', 'long-poll'], orgId);
      const seqs = record(rt, 'tasks');
      await until(() => rt.getState().status === 'connected', 8000, 'connected');
      expect(rt.getState().transport).toBe('sse');
      publish(orgId, 3);
      await until(() => seqs.length >= 3, 8000, 'events');
      expect(seqs).toEqual(range(3));
    } finally {
      server.faults.refuseWebSocket(false);
    }
  });

  it('falls back to SSE when the WebSocket opens but is never welcomed (a proxy holding its frames)', async () => {
    server.faults.silenceWebSocket(true);
    try {
      const orgId = `org_fallback_${++orgCounter}`;
      // Long enough for a cold SSE module to load on a busy machine (the
      // timeout covers the transport's download too), short for the test.
      const rt = client(['websocket', 'sse', 'long-poll'], orgId, { connectTimeoutMs: 1000 });
      const failures: string[] = [];
      rt.on('disconnected', ({ error }) => failures.push(error.code));
      const seqs = record(rt, 'tasks');
      await until(() => rt.getState().status === 'connected', 15_000, 'connected');
      expect(rt.getState().transport).toBe('sse');
      // Two welcome timeouts of the WebSocket, then SSE.
      expect(failures).toEqual(['connect_timeout', 'connect_timeout']);
      publish(orgId, 3);
      await until(() => seqs.length >= 3, 8000, 'events');
      expect(seqs).toEqual(range(3));
    } finally {
      server.faults.silenceWebSocket(false);
    }
  });
});
