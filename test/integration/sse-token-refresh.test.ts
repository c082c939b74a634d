import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import { closingAfterEach, record, sleep, until } from './devserver-helpers';

// An SSE stream sends its token once, in the request's header. With
// `auth.getToken` the loop refreshes the token before it expires and hands it
// to the live connection, but the SSE transport kept it for its
// `update-services` requests only: the stream went on under the old token,
// which the server ends (`unauthorized`) at its expiry. Every token lifetime
// then cost a reconnect (a `disconnected` event) and a second `getToken` (the
// 401 throws the refreshed token away too). Now the transport reopens the
// stream with the new token from the core's cursor, in place.

const TOKEN_TTL_MS = 2000;
// Refreshed 800 ms before expiry: every 1.2 s, each refresh leaving 800 ms
// (timers run late on a busy machine) before the server would end the stream.
const REFRESH_SKEW_MS = 800;

let server: DevServer;
const opened: string[] = [];
const closing = closingAfterEach();

beforeAll(async () => {
  server = await startDevServer({
    heartbeatMs: 500,
    batchWindowMs: { min: 1, max: 5 },
    log: (line) => {
      if (line.startsWith('open sse ')) opened.push(line);
    },
  });
});
afterAll(async () => {
  await server.close();
});

it('moves an SSE stream to each refreshed token without a reconnect, a second getToken or a lost or repeated event', async () => {
  const orgId = 'org_sse_refresh';
  let tokens = 0;
  const rt = closing(
    createRealtime({
      url: server.url,
      scope: { orgId, userId: 'u_1' },
      transports: ['sse'],
      auth: {
        getToken: () => {
          tokens++;
          return server.issueToken(orgId, 'u_1', { ttlMs: TOKEN_TTL_MS });
        },
        refreshSkewMs: REFRESH_SKEW_MS,
      },
      leader: { strategy: 'none' },
      backoff: { baseMs: 10, capMs: 50 },
      devtools: false,
      telemetry: { sampleRate: 0 },
    }),
  );
  const disconnects: string[] = [];
  rt.on('disconnected', ({ error }) => disconnects.push(error.code));
  const seqs = record(rt, 'tasks');
  await until(() => rt.getState().status === 'connected', 8000, 'connected');
  const streamsOf = () => opened.filter((line) => line.includes(`org=${orgId} `)).length;

  // Events all along, so that some are published while a stream is swapped.
  let published = 0;
  const publishing = (async () => {
    while (tokens < 5) {
      server.publish(orgId, { service: 'tasks', entityType: 'task', type: 'task.updated' });
      published++;
      await sleep(20);
    }
  })();
  // Four refreshes: four token lifetimes passed.
  await until(() => tokens >= 5, 10_000, 'the fifth token');
  await publishing;
  await until(() => seqs.length >= published, 5000, `all ${published} events`);
  await sleep(100);

  expect(disconnects).toEqual([]);
  expect(rt.getState().counters.reconnects).toBe(0);
  // One getToken per stream: each token opened exactly one, none was thrown away.
  await until(() => streamsOf() === tokens, 2000, 'a stream per token');
  expect(streamsOf()).toBe(tokens);
  // Only the newest stream is still open at the server (a cancelled one's end
  // reaches it a moment later).
  const atServer = () => server.connections().filter((c) => c.orgId === orgId).length;
  await until(() => atServer() === 1, 2000, 'one stream at the server');
  expect(atServer()).toBe(1);
  // The state names the stream the server has now, not the first one.
  const [live] = server.connections().filter((c) => c.orgId === orgId);
  expect(rt.getState().connectionId).toBe(live?.connectionId);
  expect(seqs).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  expect(rt.getState().byServiceSuppressed).toEqual({});
  expect(rt.getState().status).toBe('connected');
});
