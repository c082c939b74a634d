import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type DevServer, startDevServer } from '../../src/devserver';
import { QuantileSketch } from '../../src/observability/quantile-sketch';
import { sliReport } from '../fixtures/sli-report';
import {
  authHeaders,
  devToken,
  eventsOf,
  isType,
  ORG,
  openSse,
  openWs,
  openWsStream,
  poll,
  postJson,
  sleep,
  task,
  USER,
  until,
} from './devserver-helpers';

// Auth, in-place subscription changes, HTTP endpoints and fault hooks.
describe('dev server control', () => {
  let server: DevServer;

  beforeAll(async () => {
    server = await startDevServer({ heartbeatMs: 5000, batchWindowMs: { min: 5, max: 10 } });
  });
  afterAll(async () => {
    await server.close();
  });

  describe('auth', () => {
    it('HTTP: missing or unknown token is 401, a revoked user 403, with the error body', async () => {
      const missing = await openSse(server.url, { services: ['tasks'] });
      expect(missing.status).toBe(401);
      expect(JSON.parse(missing.body ?? '')).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await poll(server.url, { token: 'nope', services: ['tasks'] })).status).toBe(401);

      server.faults.revokeUser('org_gone', 'u_gone');
      const revoked = await poll(server.url, { token: devToken('org_gone', 'u_gone'), services: ['tasks'] });
      expect(revoked.status).toBe(403);
      expect(revoked.body).toMatchObject({ type: 'error', code: 'forbidden' });
    });

    it('WebSocket: a bad hello token gets error unauthorized and close 4401', async () => {
      const ws = await openWsStream(server.url, { token: 'bogus', services: ['tasks'] });
      expect(await ws.frames.waitFor(isType('error'))).toMatchObject({ code: 'unauthorized' });
      expect((await ws.closed).code).toBe(4401);
    });

    it('issued tokens work until expireTokens(); live sockets then get unauthorized, polls 401', async () => {
      const { token } = server.issueToken('org_exp', 'u_1');
      const ws = await openWsStream(server.url, { token, services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      const dev = await openWsStream(server.url, { token: devToken('org_exp'), services: ['tasks'] });
      await dev.frames.waitFor(isType('welcome'));
      server.faults.expireTokens();
      expect(await ws.frames.waitFor(isType('error'))).toMatchObject({ code: 'unauthorized' });
      expect((await ws.closed).code).toBe(4401);
      expect((await poll(server.url, { token, services: ['tasks'] })).status).toBe(401);
      // Static dev tokens never expire.
      expect(dev.ws.readyState).toBe(WebSocket.OPEN);
      dev.ws.close();
    });

    it('a token with ttlMs ends its socket when it expires unless an auth frame refreshed it', async () => {
      const issuedAt = Date.now();
      const short = server.issueToken('org_ttl', 'u_1', { ttlMs: 150 });
      const refreshed = server.issueToken('org_ttl', 'u_1', { ttlMs: 600 });
      const expiring = await openWsStream(server.url, { token: short.token, services: ['tasks'] });
      const kept = await openWsStream(server.url, { token: refreshed.token, services: ['tasks'] });
      await kept.frames.waitFor(isType('welcome'));
      kept.send({ type: 'auth', token: server.issueToken('org_ttl', 'u_1', { ttlMs: 60_000 }).token });
      expect((await expiring.closed).code).toBe(4401);
      await sleep(Math.max(0, issuedAt + 750 - Date.now()));
      expect(kept.ws.readyState).toBe(WebSocket.OPEN);
      kept.send({ type: 'auth', token: devToken('org_ttl', 'someone_else') });
      expect((await kept.closed).code).toBe(4401);
    });

    it('revokeUser closes the user’s live sockets with forbidden (4403) and ends their SSE', async () => {
      const ws = await openWsStream(server.url, { token: devToken('org_rev', 'u_bad'), services: ['tasks'] });
      const sse = await openSse(server.url, { token: devToken('org_rev', 'u_bad'), services: ['tasks'] });
      const bystander = await openWsStream(server.url, {
        token: devToken('org_rev', 'u_ok'),
        services: ['tasks'],
      });
      await ws.frames.waitFor(isType('welcome'));
      await sse.frames.waitFor(isType('welcome'));
      await bystander.frames.waitFor(isType('welcome'));
      server.faults.revokeUser('org_rev', 'u_bad');
      expect(await ws.frames.waitFor(isType('error'))).toMatchObject({ code: 'forbidden' });
      expect((await ws.closed).code).toBe(4403);
      expect(await sse.frames.waitFor(isType('error'))).toMatchObject({ code: 'forbidden' });
      expect(await sse.ended).toBe('end');
      expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
      bystander.ws.close();
    });
  });

  describe('update-services', () => {
    it('changes a live WebSocket in place and returns the start cursor of added services', async () => {
      const org = 'org_upd';
      const token = devToken(org);
      for (let i = 0; i < 3; i++)
        server.publish(org, { service: 'finance', entityType: 'invoice', type: 'x' });
      const ws = await openWsStream(server.url, { token, services: ['tasks'] });
      const welcome = await ws.frames.waitFor(isType('welcome'));
      const total = server.metrics().totalConnections;

      const answer = await postJson(
        `${server.url}/update-services`,
        { connectionId: welcome.connectionId, services: ['tasks', 'finance'], propertyIds: null },
        token,
      );
      expect(answer).toMatchObject({ status: 200, body: { cursor: { finance: 3 } } });
      expect(server.metrics().totalConnections).toBe(total);
      expect(server.connections().find((c) => c.connectionId === welcome.connectionId)?.services).toEqual([
        'tasks',
        'finance',
      ]);
      server.publish(org, { service: 'finance', entityType: 'invoice', type: 'x' });
      const batch = await ws.frames.waitFor(isType('batch'));
      expect(batch).toMatchObject({ after: { finance: 3 }, cursor: { finance: 4 } });
      expect(ws.ws.readyState).toBe(WebSocket.OPEN);

      expect(
        (
          await postJson(
            `${server.url}/update-services`,
            { connectionId: welcome.connectionId, services: [], propertyIds: null },
            devToken(org, 'intruder'),
          )
        ).status,
        // Another user's token: refused as unauthorized (the SDK reconnects
        // as its own user), not forbidden (the SDK would stop for good).
      ).toBe(401);
      expect(
        (
          await postJson(
            `${server.url}/update-services`,
            { connectionId: 'conn_nope', services: [], propertyIds: null },
            token,
          )
        ).status,
      ).toBe(404);
      expect((await postJson(`${server.url}/update-services`, { services: 'tasks' }, token)).status).toBe(
        400,
      );
      expect((await postJson(`${server.url}/update-services`, '{oops', token)).status).toBe(400);
      expect(
        (
          await postJson(`${server.url}/update-services`, {
            connectionId: welcome.connectionId,
            services: [],
            propertyIds: null,
          })
        ).status,
      ).toBe(401);
      ws.ws.close();
    });

    it('works for long-poll connections and via the WebSocket update frame', async () => {
      const org = 'org_upd2';
      const token = devToken(org);
      const opened = await poll(server.url, { token, services: ['tasks'] });
      const welcome = opened.frames[0];
      if (welcome?.type !== 'welcome') throw new Error('expected welcome');
      const answer = await postJson(
        `${server.url}/update-services`,
        { connectionId: welcome.connectionId, services: ['finance'], propertyIds: ['p1'] },
        token,
      );
      expect(answer).toMatchObject({ status: 200, body: { cursor: { finance: 0 } } });
      server.publish(org, task());
      server.publish(org, { service: 'finance', entityType: 'invoice', type: 'x', propertyId: 'p1' });
      const next = await poll(server.url, { token, connectionId: welcome.connectionId, wait: 2 });
      expect(eventsOf(next.frames).map((e) => e.service)).toEqual(['finance']);

      const ws = await openWsStream(server.url, { token, services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      ws.send({ type: 'update', services: ['finance'], propertyIds: null });
      await until(() =>
        server.connections().some((c) => c.transport === 'websocket' && c.services[0] === 'finance'),
      );
      server.publish(org, { service: 'finance', entityType: 'invoice', type: 'x' });
      expect(await ws.frames.waitFor(isType('batch'))).toMatchObject({
        after: { finance: 1 },
        cursor: { finance: 2 },
      });
      ws.ws.close();
    });
  });

  describe('HTTP endpoints', () => {
    it('telemetry: accepts an object with a string type, refuses anything else', async () => {
      const url = `${server.url}/telemetry/client`;
      expect((await postJson(url, { type: 'sli', p95: 12 })).status).toBe(204);
      expect(server.telemetry.at(-1)).toEqual({ type: 'sli', p95: 12 });
      expect((await postJson(url, { kind: 'sli' })).status).toBe(400);
      expect((await postJson(url, [{ type: 'sli' }])).status).toBe(400);
      expect((await postJson(url, 'not json')).status).toBe(400);
      expect((await postJson(url, { type: 'big', pad: 'x'.repeat(70 * 1024) })).status).toBe(413);
      expect((await postJson(`${server.origin}/telemetry/client`, { type: 'root' })).status).toBe(204);
    });

    it('telemetry: an SLI report must match sliReportSchema and its sketches read back', async () => {
      const url = `${server.url}/telemetry/client`;
      const sketch = new QuantileSketch();
      for (let ms = 1; ms <= 100; ms++) sketch.add(ms);
      const report = sliReport();
      report.sli.eventDeliveryLatencyMs = sketch.toJSON();
      expect((await postJson(url, report)).status).toBe(204);
      expect(server.telemetry.at(-1)).toEqual(report);
      // Refused by the schema: the client leaves such an orgId out.
      expect((await postJson(url, { ...report, orgId: 'o'.repeat(201) })).status).toBe(400);
      // The schema lets it through, the sketch does not read back (min > max).
      const badSketch = { ...sketch.toJSON(), min: 50, max: 10 };
      const answer = await postJson(url, {
        ...report,
        sli: { ...report.sli, eventDeliveryLatencyMs: badSketch },
      });
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toContain('sli.eventDeliveryLatencyMs.max');
      expect(server.telemetry.at(-1)).toEqual(report);
    });

    it('telemetry: sli.flagsUrlFailures is optional (older clients send none) and a count', async () => {
      const url = `${server.url}/telemetry/client`;
      const older = sliReport();
      expect((await postJson(url, older)).status).toBe(204);
      expect(server.telemetry.at(-1)).toEqual(older);
      const newer = sliReport({ sli: { ...older.sli, flagsUrlFailures: 2 } });
      expect((await postJson(url, newer)).status).toBe(204);
      expect(server.telemetry.at(-1)).toEqual(newer);
      for (const flagsUrlFailures of [-1, 0.5, '2']) {
        const answer = await postJson(url, { ...older, sli: { ...older.sli, flagsUrlFailures } });
        expect(answer.status).toBe(400);
        expect(JSON.stringify(answer.body)).toContain('flagsUrlFailures');
      }
      expect(server.telemetry.at(-1)).toEqual(newer);
    });

    it('CORS: OPTIONS preflight and the allow-origin header on answers', async () => {
      const preflight = await fetch(`${server.url}/stream`, { method: 'OPTIONS' });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      const allowed = preflight.headers.get('access-control-allow-headers') ?? '';
      for (const header of ['Authorization', 'Content-Type', 'Last-Event-ID'])
        expect(allowed).toContain(header);
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.headers.get('access-control-allow-origin')).toBe('*');
    });

    it('metrics and health', async () => {
      const ws = await openWsStream(server.url, {
        token: devToken('org_m'),
        services: ['tasks', 'analytics'],
      });
      await ws.frames.waitFor(isType('welcome'));
      const before = server.metrics().requestsTotal;
      const res = await fetch(`${server.url}/metrics`);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(200);
      expect(body).toMatchObject({
        activeConnections: server.connections().length,
        connectionsByTransport: { websocket: expect.any(Number) },
        subscribersByService: { analytics: 1 },
        quarantinedConnections: 0,
      });
      expect(body.requestsTotal).toBeGreaterThan(before);
      expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ ok: true });
      ws.ws.close();
    });

    it('dev endpoints issue tokens and publish events', async () => {
      const issued = await postJson(`${server.url}/dev/token`, {
        orgId: 'org_dev',
        userId: 'u_1',
        ttlMs: 60_000,
      });
      expect(issued.status).toBe(200);
      const { token, expiresAt } = issued.body as { token: string; expiresAt: number };
      expect(expiresAt).toBeGreaterThan(Date.now());
      const opened = await poll(server.url, { token, services: ['tasks'] });
      expect(opened.status).toBe(200);
      const published = await postJson(`${server.url}/dev/publish`, { orgId: 'org_dev', event: task() });
      expect(published).toMatchObject({ status: 200, body: { seq: 1, orgId: 'org_dev', service: 'tasks' } });
      expect(
        (await postJson(`${server.url}/dev/publish`, { orgId: 'org_dev', event: { service: 'x' } })).status,
      ).toBe(400);
      expect((await postJson(`${server.url}/dev/token`, { orgId: 'org_dev' })).status).toBe(400);
    });

    it('bad input is a 4xx, never a crash', async () => {
      const token = devToken();
      const headers = authHeaders(token);
      expect((await fetch(`${server.url}/stream?cursor=%%%`, { headers })).status).toBe(400);
      expect((await fetch(`${server.url}/stream?services=a%20b`, { headers })).status).toBe(400);
      expect((await fetch(`${server.url}/poll?wait=soon`, { headers })).status).toBe(400);
      expect((await fetch(`${server.url}/nothing`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    });
  });

  describe('WebSocket client frames', () => {
    it('invalid frames get bad_request and are counted; the socket stays and keeps streaming', async () => {
      const org = 'org_badframes';
      const before = server.metrics().invalidClientFrames;
      const early = await openWs(server.url);
      early.send({ type: 'update', services: [], propertyIds: null });
      expect(await early.frames.waitFor(isType('error'))).toMatchObject({ code: 'bad_request' });
      early.ws.close();

      const ws = await openWsStream(server.url, { token: devToken(org), services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      ws.send('not json');
      ws.ws.send(Buffer.from([1, 2, 3]));
      ws.send({ type: 'hello', token: devToken(org), services: [], propertyIds: null, cursor: {} });
      ws.send({ type: 'update', services: 'tasks' });
      await until(() => ws.frames.items.filter(isType('error')).length === 4, 2000, 'four errors');
      expect(server.metrics().invalidClientFrames - before).toBe(5);
      server.publish(org, task());
      expect(await ws.frames.waitFor(isType('batch'))).toMatchObject({ cursor: { tasks: 1 } });
      ws.ws.close();
    });

    it('a socket that never says hello is closed after helloTimeoutMs', async () => {
      const quick = await startDevServer({ helloTimeoutMs: 100 });
      try {
        const ws = await openWs(quick.url);
        expect((await ws.closed).code).toBe(4408);
      } finally {
        await quick.close();
      }
    });
  });

  describe('faults', () => {
    it('refuseWebSocket answers upgrades with HTTP 403', async () => {
      server.faults.refuseWebSocket(true);
      try {
        const status = await new Promise<number>((resolve) => {
          const ws = new WebSocket(`${server.url.replace('http', 'ws')}/stream`);
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.on('error', () => resolve(-1));
        });
        expect(status).toBe(403);
      } finally {
        server.faults.refuseWebSocket(false);
      }
      const ok = await openWsStream(server.url, { token: devToken(), services: [] });
      await ok.frames.waitFor(isType('welcome'));
      ok.ws.close();
    });

    it('silenceWebSocket opens sockets that answer nothing, not even hello, until it is lifted', async () => {
      const quick = await startDevServer({ helloTimeoutMs: 100 });
      try {
        quick.faults.silenceWebSocket(true);
        const silent = await openWsStream(quick.url, { token: devToken(), services: ['tasks'] });
        // Past helloTimeoutMs: not even the hello timeout's close.
        await sleep(300);
        expect(silent.frames.items).toEqual([]);
        expect(silent.ws.readyState).toBe(WebSocket.OPEN);
        expect(quick.connections()).toEqual([]);
        quick.faults.silenceWebSocket(false);
        const ok = await openWsStream(quick.url, { token: devToken(), services: [] });
        await ok.frames.waitFor(isType('welcome'));
        ok.ws.close();
        silent.ws.close();
      } finally {
        await quick.close();
      }
    });

    it('dropConnections cuts sockets without a close frame, SSE responses and waiting polls', async () => {
      const org = 'org_drop';
      const token = devToken(org);
      const ws = await openWsStream(server.url, { token, services: ['tasks'] });
      const sse = await openSse(server.url, { token, services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      await sse.frames.waitFor(isType('welcome'));
      const opened = await poll(server.url, { token, services: ['tasks'] });
      const welcome = opened.frames[0];
      if (welcome?.type !== 'welcome') throw new Error('expected welcome');
      const waiting = poll(server.url, { token, connectionId: welcome.connectionId, wait: 10 }).then(
        () => 'answered',
        () => 'cut',
      );
      await until(() => server.metrics().pollWaiters > 0, 2000, 'waiting poll');
      server.faults.dropConnections();
      expect((await ws.closed).code).toBe(1006);
      expect(await sse.ended).toBe('aborted');
      expect(await waiting).toBe('cut');
    });

    it('sendRaw writes text as a frame to every stream of the org', async () => {
      const org = 'org_raw';
      const ws = await openWsStream(server.url, { token: devToken(org), services: ['tasks'] });
      const sse = await openSse(server.url, { token: devToken(org), services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      await sse.frames.waitFor(isType('welcome'));
      server.faults.sendRaw(org, '{"type":"batch","events":"oops"}');
      await until(() => ws.rawTexts.length === 1, 2000, 'raw ws frame');
      expect(ws.rawTexts[0]).toBe('{"type":"batch","events":"oops"}');
      const raw = await sse.messages.waitFor((m) => m.event === undefined);
      expect(raw.data).toBe('{"type":"batch","events":"oops"}');
      ws.ws.close();
      sse.close();
    });

    it('delay holds back frames and HTTP answers', async () => {
      const org = 'org_delay';
      const ws = await openWsStream(server.url, { token: devToken(org), services: ['tasks'] });
      await ws.frames.waitFor(isType('welcome'));
      server.faults.delay(200);
      try {
        const started = Date.now();
        expect((await fetch(`${server.url}/health`)).status).toBe(200);
        expect(Date.now() - started).toBeGreaterThanOrEqual(190);
        const publishedAt = Date.now();
        server.publish(org, task());
        await ws.frames.waitFor(isType('batch'));
        expect(Date.now() - publishedAt).toBeGreaterThanOrEqual(190);
      } finally {
        server.faults.delay(0);
      }
      ws.ws.close();
    });
  });

  it('the org of a connection comes from its token, not from anything the client says', async () => {
    const ws = await openWsStream(server.url, { token: devToken('org_a', USER), services: ['tasks'] });
    await ws.frames.waitFor(isType('welcome'));
    server.publish(ORG, task());
    server.publish('org_a', task());
    const batch = await ws.frames.waitFor(isType('batch'));
    expect(batch.events.map((e) => e.orgId)).toEqual(['org_a']);
    ws.ws.close();
  });
});
