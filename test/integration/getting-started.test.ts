import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { until } from './devserver-helpers';

// docs/getting-started.md run as written, with nothing but what the page
// says: default options, the dev server's static token, Node 20 without a
// global WebSocket (SSE) or with ws's. docs-samples.test.ts only type-checks
// it. Then the first failures a new user meets, with the messages
// docs/troubleshooting.md ("Never connects") tells them apart by.

let server: DevServer;
const clients: RealtimeClient[] = [];

beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

function gettingStartedClient(
  url: string,
  extra: { WebSocket?: typeof WebSocket; anonymous?: boolean } = {},
) {
  const rt = createRealtime({
    url,
    scope: { orgId: 'org_1', userId: 'u_1' },
    ...(extra.anonymous ? {} : { auth: { getToken: () => 'dev:org_1:u_1' } }),
    ...(extra.WebSocket ? { platform: { WebSocket: extra.WebSocket } } : {}),
  });
  clients.push(rt);
  return rt;
}

function publishTask(): RealtimeEvent {
  return server.publish('org_1', {
    service: 'tasks',
    entityType: 'task',
    type: 'task.updated',
    data: { id: 't_1' },
  });
}

describe('getting-started.md against the dev server', () => {
  it('server.url is the documented http://127.0.0.1:<port>/v2/realtime', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/v2/realtime`);
  });

  it.each([
    ['without a global WebSocket, over SSE', undefined, 'sse'],
    ["with ws's WebSocket, over WebSocket", WebSocket, 'websocket'],
  ] as const)('a client %s gets the published events once, in order', async (_name, ws, transport) => {
    const rt = gettingStartedClient(server.url, { WebSocket: ws });
    const seen: RealtimeEvent[] = [];
    const off = rt.subscribe('tasks', (events) => {
      seen.push(...events);
    });
    await until(() => rt.getState().status === 'connected', 5000, 'connected');
    expect(rt.getState().transport).toBe(transport);

    const published = [publishTask(), publishTask(), publishTask()];
    await until(() => seen.length >= 3, 5000, 'three events');
    expect(seen.map((e) => e.eventId)).toEqual(published.map((e) => e.eventId));
    expect(seen[0]?.data).toEqual({ id: 't_1' });

    off();
    await rt.close();
    expect(rt.getState().status).toBe('closed');
  });
});

describe('the failures troubleshooting.md explains', () => {
  async function lastErrorOf(rt: RealtimeClient): Promise<string> {
    rt.subscribe('tasks', () => {});
    await until(() => rt.getState().lastError !== undefined, 5000, 'a failed attempt');
    return rt.getState().lastError ?? '';
  }

  it('a wrong path: transport_unavailable, HTTP 404', async () => {
    const rt = gettingStartedClient(`${server.url}/stream`, { WebSocket });
    // The last transport tried (long-poll) names the URL it asked, and what to check.
    expect(await lastErrorOf(rt)).toBe(
      `transport_unavailable: server answered HTTP 404 for ${server.url}/stream/poll; is url the protocol's base path (e.g. …/v2/realtime)?`,
    );
    expect(rt.getState().status).toBe('connecting');
  });

  it('no server listening: transport_unavailable, no answer from the server', async () => {
    const down = await startDevServer();
    const url = down.url;
    await down.close();
    const rt = gettingStartedClient(url, { WebSocket });
    expect(await lastErrorOf(rt)).toMatch(
      /^transport_unavailable: .*no answer from the server at http:\/\/127\.0\.0\.1:\d+\/v2\/realtime\/\w+$/,
    );
  });

  it('no auth.getToken: unauthorized', async () => {
    const rt = gettingStartedClient(server.url, { WebSocket, anonymous: true });
    expect(await lastErrorOf(rt)).toMatch(/^unauthorized: /);
  });

  it('a relative url, and a client used after close, throw at the call', async () => {
    expect(() => createRealtime({ url: '/v2/realtime' })).toThrow(
      new RangeError('url must be an absolute http(s) URL, got "/v2/realtime"'),
    );
    const rt = gettingStartedClient(server.url);
    await rt.close();
    expect(() => rt.subscribe('tasks', () => {})).toThrow(new TypeError('this realtime client is closed'));
  });
});
