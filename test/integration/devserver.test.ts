import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { decodeCursor } from '../../src/protocol/cursor';
import {
  devToken,
  eventsOf,
  isType,
  ORG,
  openSse,
  openWsStream,
  poll,
  sleep,
  task,
  until,
} from './devserver-helpers';

// Welcome, live batches and heartbeats over each transport, seq assignment
// and the property filter.
describe('dev server streams', () => {
  let server: DevServer;

  beforeAll(async () => {
    server = await startDevServer({ heartbeatMs: 150, batchWindowMs: { min: 5, max: 20 } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('numbers events per (org, service) from 1 and fills the server fields', () => {
    const before = Date.now();
    const a1 = server.publish('org_seq', task());
    const a2 = server.publish('org_seq', task());
    const b1 = server.publish('org_seq', { service: 'finance', entityType: 'invoice', type: 'invoice.paid' });
    const other = server.publish('org_seq_2', task());
    const given = server.publish(
      'org_seq',
      task({ eventId: 'mine', ts: 42, propertyId: 'p1', mutationId: 'm_1' }),
    );
    expect([a1.seq, a2.seq, b1.seq, other.seq, given.seq]).toEqual([1, 2, 1, 1, 3]);
    expect(a1.orgId).toBe('org_seq');
    expect(a1.ts).toBeGreaterThanOrEqual(before);
    expect(a1.eventId).toMatch(/^evt_\d+$/);
    expect(new Set([a1.eventId, a2.eventId, b1.eventId, other.eventId]).size).toBe(4);
    expect(given).toMatchObject({ eventId: 'mine', ts: 42, propertyId: 'p1', mutationId: 'm_1', seq: 3 });
  });

  it('refuses an invalid event with a RangeError naming the field', () => {
    expect(() => server.publish(ORG, task({ service: '__proto__' }))).toThrow(/event\.service/);
    expect(() => server.publish('', task())).toThrow(RangeError);
  });

  it('SSE: welcome, then batches with an id carrying the whole cursor, then heartbeats', async () => {
    const org = 'org_sse';
    server.publish(org, task());
    const sse = await openSse(server.url, { token: devToken(org), services: ['tasks', 'finance'] });
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers['content-type']).toBe('text/event-stream');
      expect(sse.headers['cache-control']).toBe('no-cache');
      const welcome = await sse.frames.waitFor(isType('welcome'));
      expect(welcome).toMatchObject({ heartbeatMs: 150, cursor: { tasks: 1, finance: 0 } });
      expect(sse.frames.items[0]?.type).toBe('welcome');

      server.publish(org, task());
      server.publish(org, { service: 'finance', entityType: 'invoice', type: 'invoice.paid' });
      const taskBatch = await sse.frames.waitFor(
        (f) => f.type === 'batch' && f.events[0]?.service === 'tasks',
      );
      expect(taskBatch).toMatchObject({ after: { tasks: 1 }, cursor: { tasks: 2 } });
      await sse.frames.waitFor((f) => f.type === 'batch' && f.events[0]?.service === 'finance');
      const batchMessages = sse.messages.items.filter((m) => m.event === 'batch');
      expect(batchMessages).toHaveLength(2);
      expect(decodeCursor(batchMessages[1]?.id ?? '')).toEqual({ tasks: 2, finance: 1 });
      expect(sse.messages.items.find((m) => m.event === 'welcome')?.id).toBeUndefined();

      const heartbeat = await sse.frames.waitFor(isType('heartbeat'), 2000, 'heartbeat');
      expect(heartbeat.serverTime).toBeGreaterThan(0);
    } finally {
      sse.close();
    }
  });

  it('WebSocket: hello, welcome, live batches in seq order and heartbeats', async () => {
    const org = 'org_ws';
    const ws = await openWsStream(server.url, { token: devToken(org), services: ['tasks'] });
    try {
      const welcome = await ws.frames.waitFor(isType('welcome'));
      expect(welcome.cursor).toEqual({ tasks: 0 });
      expect(server.connections().find((c) => c.connectionId === welcome.connectionId)).toMatchObject({
        transport: 'websocket',
        orgId: org,
        services: ['tasks'],
      });
      for (let i = 0; i < 5; i++) server.publish(org, task());
      await until(() => eventsOf(ws.frames.items).length === 5, 2000, 'five events');
      expect(eventsOf(ws.frames.items).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      const batches = ws.frames.items.filter(isType('batch'));
      // Each batch continues exactly where the previous one stopped.
      let held = 0;
      for (const batch of batches) {
        expect(batch.after.tasks).toBe(held);
        held = batch.cursor.tasks ?? -1;
      }
      await ws.frames.waitFor(isType('heartbeat'), 2000, 'heartbeat');
    } finally {
      ws.ws.close();
    }
  });

  it('long-poll: opening poll gets welcome, a waiting poll gets the next batch, an idle one 204', async () => {
    const org = 'org_lp';
    const token = devToken(org);
    const opened = await poll(server.url, { token, services: ['tasks'] });
    expect(opened.status).toBe(200);
    const welcome = opened.frames[0];
    if (welcome?.type !== 'welcome') throw new Error('expected welcome first');
    const connectionId = welcome.connectionId;

    const waiting = poll(server.url, { token, connectionId, cursor: welcome.cursor, wait: 5 });
    await until(() => server.metrics().pollWaiters === 1, 2000, 'a waiting poll');
    server.publish(org, task());
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.frames).toMatchObject([{ type: 'batch', after: { tasks: 0 }, cursor: { tasks: 1 } }]);

    const idle = await poll(server.url, { token, connectionId, cursor: { tasks: 1 }, wait: 0.1 });
    expect(idle.status).toBe(204);
    expect(server.connections().filter((c) => c.transport === 'long-poll' && c.orgId === org)).toHaveLength(
      1,
    );
  });

  it('long-poll: events already after the cursor are answered at once; a newer poll ends the older with 204', async () => {
    const org = 'org_lp2';
    const token = devToken(org);
    const opened = await poll(server.url, { token, services: ['tasks'] });
    const welcome = opened.frames[0];
    if (welcome?.type !== 'welcome') throw new Error('expected welcome first');
    const connectionId = welcome.connectionId;
    server.publish(org, task());
    server.publish(org, task());
    const started = Date.now();
    const immediate = await poll(server.url, { token, connectionId, cursor: { tasks: 0 }, wait: 5 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(eventsOf(immediate.frames).map((e) => e.seq)).toEqual([1, 2]);

    const older = poll(server.url, { token, connectionId, cursor: { tasks: 2 }, wait: 5 });
    await until(() => server.metrics().pollWaiters === 1, 2000, 'first waiter');
    const newer = poll(server.url, { token, connectionId, cursor: { tasks: 2 }, wait: 5 });
    expect((await older).status).toBe(204);
    await until(() => server.metrics().pollWaiters === 1, 2000, 'second waiter');
    server.publish(org, task());
    expect(eventsOf((await newer).frames).map((e) => e.seq)).toEqual([3]);
  });

  it('long-poll: a connection nobody polls is forgotten after pollIdleTimeoutMs', async () => {
    const quick = await startDevServer({ pollIdleTimeoutMs: 150 });
    try {
      const opened = await poll(quick.url, { token: devToken(), services: ['tasks'] });
      expect(opened.status).toBe(200);
      expect(quick.connections()).toHaveLength(1);
      await until(() => quick.connections().length === 0, 2000, 'idle removal');
    } finally {
      await quick.close();
    }
  });

  it('property filter: only matching or property-less events, and after stays consistent', async () => {
    const org = 'org_prop';
    const ws = await openWsStream(server.url, {
      token: devToken(org),
      services: ['tasks'],
      propertyIds: ['p1'],
    });
    try {
      await ws.frames.waitFor(isType('welcome'));
      server.publish(org, task({ propertyId: 'p1' }));
      server.publish(org, task({ propertyId: 'p2' }));
      server.publish(org, task());
      const first = await ws.frames.waitFor(isType('batch'));
      expect(first.events.map((e) => e.seq)).toEqual([1, 3]);
      expect(first).toMatchObject({ after: { tasks: 0 }, cursor: { tasks: 3 } });

      server.publish(org, task({ propertyId: 'p2' }));
      await sleep(60);
      expect(ws.frames.items.filter(isType('batch'))).toHaveLength(1);
      server.publish(org, task({ propertyId: 'p1' }));
      const second = await ws.frames.waitFor((f) => f.type === 'batch' && f !== first);
      expect(second).toMatchObject({ after: { tasks: 3 }, cursor: { tasks: 5 } });
      expect(second.type === 'batch' && second.events.map((e) => e.seq)).toEqual([5]);
    } finally {
      ws.ws.close();
    }
  });

  it('property filter over long-poll and SSE', async () => {
    const org = 'org_prop2';
    const token = devToken(org);
    const sse = await openSse(server.url, { token, services: ['tasks'], propertyIds: ['p2'] });
    const opened = await poll(server.url, { token, services: ['tasks'], propertyIds: ['p1'] });
    const welcome = opened.frames[0];
    if (welcome?.type !== 'welcome') throw new Error('expected welcome first');
    try {
      server.publish(org, task({ propertyId: 'p1' }));
      server.publish(org, task({ propertyId: 'p2' }));
      const polled = await poll(server.url, {
        token,
        connectionId: welcome.connectionId,
        cursor: { tasks: 0 },
        wait: 2,
      });
      expect(eventsOf(polled.frames).map((e) => e.seq)).toEqual([1]);
      const sseBatch = await sse.frames.waitFor(isType('batch'));
      expect(sseBatch.events.map((e) => e.seq)).toEqual([2]);
    } finally {
      sse.close();
    }
  });
});
