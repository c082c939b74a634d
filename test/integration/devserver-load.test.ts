import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import type { ServerFrame } from '../../src/protocol/schemas';
import {
  devToken,
  eventsOf,
  isType,
  ORG,
  openSse,
  openWsStream,
  poll,
  type SseClient,
  sleep,
  task,
  until,
} from './devserver-helpers';

// What the server does under load: quotas, the adaptive batch window and the
// slow-consumer quarantine.
describe('dev server under load', () => {
  let server: DevServer;
  const clients: SseClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.close();
  });

  it('quota per origin and in total: SSE and poll get 429 + Retry-After, WebSocket overloaded + 4429', async () => {
    server = await startDevServer({
      maxConnections: 3,
      maxConnectionsPerOrigin: 1,
      overloadedRetryAfterMs: 1500,
    });
    const token = devToken();
    const fromA = { Origin: 'http://a.test' };
    const first = await openSse(server.url, { token, services: ['tasks'], headers: fromA });
    clients.push(first);
    expect(first.status).toBe(200);

    const second = await openSse(server.url, { token, services: ['tasks'], headers: fromA });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('2');
    expect(JSON.parse(second.body ?? '')).toMatchObject({
      type: 'error',
      code: 'overloaded',
      retryAfterMs: 1500,
    });
    expect((await poll(server.url, { token, services: ['tasks'], headers: fromA })).status).toBe(429);
    const ws = await openWsStream(server.url, { token, services: ['tasks'], origin: 'http://a.test' });
    expect(await ws.frames.waitFor(isType('error'))).toMatchObject({
      code: 'overloaded',
      retryAfterMs: 1500,
    });
    expect((await ws.closed).code).toBe(4429);

    // No Origin header counts as the origin 'none'.
    const noOrigin = await openSse(server.url, { token, services: ['tasks'] });
    clients.push(noOrigin);
    expect(noOrigin.status).toBe(200);
    const fromB = await openSse(server.url, {
      token,
      services: ['tasks'],
      headers: { Origin: 'http://b.test' },
    });
    clients.push(fromB);
    expect(fromB.status).toBe(200);
    const overTotal = await openSse(server.url, {
      token,
      services: ['tasks'],
      headers: { Origin: 'http://c.test' },
    });
    expect(overTotal.status).toBe(429);
    expect(server.metrics()).toMatchObject({ activeConnections: 3, overloadedRejections: 4 });
  });

  it('the batch window widens under a burst and narrows back to min when quiet', async () => {
    server = await startDevServer({ maxBatchSize: 10, batchWindowMs: { min: 10, max: 80 } });
    const ws = await openWsStream(server.url, { token: devToken(), services: ['tasks'] });
    await ws.frames.waitFor(isType('welcome'));
    for (let i = 0; i < 60; i++) server.publish(ORG, task());
    const widened = server.metrics().currentBatchWindowMsByService.tasks ?? 0;
    expect(widened).toBe(80);
    expect(server.metrics().batchWindowMsByOrg[ORG]?.tasks).toBe(80);
    await until(() => eventsOf(ws.frames.items).length === 60, 3000, 'burst delivered');
    const batches = ws.frames.items.filter(isType('batch'));
    expect(batches.every((b) => b.events.length <= 10)).toBe(true);
    expect(eventsOf(batches).map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));

    let window = widened;
    for (let i = 0; i < 20 && window > 10; i++) {
      const seen = eventsOf(ws.frames.items).length;
      server.publish(ORG, task());
      await until(() => eventsOf(ws.frames.items).length === seen + 1, 2000, 'quiet event');
      const next = server.metrics().currentBatchWindowMsByService.tasks ?? 0;
      expect(next).toBeLessThan(window);
      window = next;
    }
    expect(window).toBe(10);
    const fromHttp = (await (await fetch(`${server.url}/metrics`)).json()) as {
      currentBatchWindowMsByService: Record<string, number>;
    };
    expect(fromHttp.currentBatchWindowMsByService.tasks).toBe(10);
    ws.ws.close();
  });

  it('quarantines a slow consumer: sheds low-tier services, keeps the others, then resets the shed ones', async () => {
    server = await startDevServer({
      batchWindowMs: { min: 5, max: 5 },
      heartbeatMs: 60_000,
      quarantine: {
        queueLimitBytes: 64 * 1024,
        overflowsToQuarantine: 2,
        windowMs: 10_000,
        durationMs: 5000,
        healthyMs: 200,
        lowTierServices: ['analytics'],
      },
    });
    const sse = await openSse(server.url, { token: devToken(), services: ['tasks', 'analytics'] });
    clients.push(sse);
    await sse.frames.waitFor(isType('welcome'));
    sse.pause();

    // Big low-tier events until the socket's queue overflows twice.
    const bigData = { blob: 'x'.repeat(256 * 1024) };
    for (let i = 0; i < 400 && !server.connections()[0]?.quarantined; i++) {
      server.publish(ORG, {
        service: 'analytics',
        entityType: 'chart',
        type: 'chart.updated',
        data: bigData,
      });
      await sleep(8);
    }
    expect(server.connections()[0]?.quarantined).toBe(true);
    expect(server.metrics()).toMatchObject({ quarantinedConnections: 1, quarantinesTotal: 1 });
    const shed = server.publish(ORG, { service: 'analytics', entityType: 'chart', type: 'chart.updated' });
    const kept = server.publish(ORG, task());
    await sleep(30);

    sse.resume();
    const reset = await sse.frames.waitFor(isType('reset'), 5000, 'quarantine reset');
    expect(reset).toEqual({
      type: 'reset',
      services: ['analytics'],
      cursor: { analytics: shed.seq },
      reason: 'quarantine',
    });
    expect(server.connections()[0]?.quarantined).toBe(false);
    const frames: ServerFrame[] = sse.frames.items;
    expect(eventsOf(frames, 'tasks').map((e) => e.seq)).toEqual([kept.seq]);
    expect(eventsOf(frames, 'analytics').map((e) => e.seq)).not.toContain(shed.seq);
    // After the reset the shed service is live again.
    const later = server.publish(ORG, { service: 'analytics', entityType: 'chart', type: 'chart.updated' });
    const resumed = await sse.frames.waitFor(
      (f) => f.type === 'batch' && f.events.some((e) => e.seq === later.seq && e.service === 'analytics'),
    );
    expect(resumed).toMatchObject({ after: { analytics: shed.seq } });
  });
});
