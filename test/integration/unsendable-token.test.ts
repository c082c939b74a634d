import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import { closingAfterEach, devToken, until } from './devserver-helpers';

// A token from `auth.getToken` that is no valid HTTP header value (a line
// break, a character above U+00FF) made fetch throw a TypeError as the SSE
// and long-poll transports set `Authorization: Bearer <token>`. The client
// read it as a network failure: `transport_unavailable`, the chain fell back
// to the next transport (which failed the same way), and the error's cause,
// the TypeError, quoted the header with the token. It is the app's mistake: now the attempt fails with `auth_failed`
// before any request, as when getToken throws, and the next getToken call
// gets its chance on the configured first transport.

let server: DevServer;
const closing = closingAfterEach();

beforeAll(async () => {
  server = await startDevServer({ heartbeatMs: 500, batchWindowMs: { min: 1, max: 5 } });
});
afterAll(async () => {
  await server.close();
});

it('fails an SSE attempt with an unsendable token as auth_failed, sends nothing, does not fall back, and connects with the next token', async () => {
  const orgId = 'org_unsendable';
  const good = devToken(orgId);
  // A header injection attempt, then a non-Latin-1 character, then a good token.
  const tokens = [`${good}\r\nX-Injected: 1`, `${good}€`, good];
  let calls = 0;
  const requests: string[] = [];
  const rt = closing(
    createRealtime({
      url: server.url,
      scope: { orgId, userId: 'u_1' },
      transports: ['sse', 'long-poll'],
      platform: {
        // The real fetch, over real HTTP: only watched.
        fetch: (input, init) => {
          requests.push(String(input));
          return fetch(input, init);
        },
      },
      auth: { getToken: () => tokens[Math.min(calls++, tokens.length - 1)]! },
      leader: { strategy: 'none' },
      backoff: { baseMs: 10, capMs: 50 },
      devtools: false,
      telemetry: { sampleRate: 0 },
    }),
  );
  const failures: { code: string; message: string; cause: unknown; requests: number; circuit: object }[] = [];
  rt.on('disconnected', ({ error }) =>
    failures.push({
      code: error.code,
      message: error.message,
      cause: error.cause,
      requests: requests.length,
      circuit: { ...rt.getState().circuit },
    }),
  );
  const fallbacks: string[] = [];
  rt.on('fallback', ({ reason }) => fallbacks.push(reason));

  // A client connects once something is subscribed.
  rt.subscribe('tasks', () => {});
  await until(() => rt.getState().status === 'connected', 8000, 'connected');

  const prefix = 'auth.getToken returned a token that is not a valid HTTP header value: it contains';
  expect(failures).toEqual([
    {
      code: 'auth_failed',
      message: `${prefix} a line break or NUL`,
      cause: undefined,
      requests: 0,
      circuit: { state: 'closed', consecutiveFailures: 1 },
    },
    {
      code: 'auth_failed',
      message: `${prefix} a character above U+00FF`,
      cause: undefined,
      requests: 0,
      circuit: { state: 'closed', consecutiveFailures: 2 },
    },
  ]);
  expect(calls).toBe(3);
  // No fallback: the third attempt, the first to send anything, opened the
  // stream on the configured first transport, and the circuit closed.
  expect(fallbacks).toEqual([]);
  expect(requests.length).toBeGreaterThan(0);
  expect(requests.every((url) => new URL(url).pathname.endsWith('/stream'))).toBe(true);
  expect(rt.getState().transport).toBe('sse');
  expect(rt.getState().circuit).toEqual({ state: 'closed', consecutiveFailures: 0 });
  expect(server.connections().filter((c) => c.orgId === orgId)).toHaveLength(1);
});
