import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import type { DevServer } from '../../src/devserver/types';
import { devToken, isType, openWsStream, postJson } from './devserver-helpers';

// `POST /update-services` takes bodies up to 1 MiB, so one request can name
// ~100,000 services. The subscription change looked up every new service in
// the old list and every old one in the new list (`Array.includes`): a second
// update with the same list was quadratic and held the event loop for tens of
// seconds, so every other stream of the server missed its heartbeats. One
// hostile (or buggy) client must not freeze the server for everyone.

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ heartbeatMs: 60_000 });
});
afterAll(async () => {
  await server?.close();
});

it('an update naming 100,000 services, sent twice, answers quickly', async () => {
  const token = devToken();
  const ws = await openWsStream(server.url, { token, services: ['tasks'] });
  const { connectionId } = await ws.frames.waitFor(isType('welcome'));
  const services = Array.from({ length: 100_000 }, (_, i) => `s${i.toString(36)}`);
  const body = { connectionId, services, propertyIds: null };
  expect(JSON.stringify(body).length).toBeLessThan(1024 * 1024);

  expect((await postJson(`${server.url}/update-services`, body, token)).status).toBe(200);
  // The second update is the one that compares 100,000 × 100,000 names.
  const startedAt = Date.now();
  const second = await postJson(`${server.url}/update-services`, body, token);
  const elapsedMs = Date.now() - startedAt;
  expect(second).toMatchObject({ status: 200, body: { cursor: {} } });
  // Linear work is well under a second even on a busy two-core machine; the
  // quadratic one took about 20 s here.
  expect(elapsedMs).toBeLessThan(3000);
  ws.ws.close();
}, 120_000);
