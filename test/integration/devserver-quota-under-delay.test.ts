import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { devToken, openSse, type SseClient } from './devserver-helpers';

// The connection quota is checked when a stream starts. With `faults.delay`
// on, an SSE stream starts only after the delay: streams that all arrived
// within one delay were each counted against the connections registered
// before any of them, so the quota let every one of them through.
describe('dev server quota while faults.delay is on', () => {
  let server: DevServer | undefined;
  const clients: SseClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    server = undefined;
  });

  it('lets no more SSE streams through than maxConnections, however many arrive within one delay', async () => {
    server = await startDevServer({ maxConnections: 2, heartbeatMs: 60_000 });
    server.faults.delay(200);
    const opened = await Promise.all(
      Array.from({ length: 5 }, () =>
        openSse((server as DevServer).url, { token: devToken(), services: ['tasks'] }),
      ),
    );
    clients.push(...opened);
    const statuses = opened.map((c) => c.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    expect(server.metrics().activeConnections).toBe(2);
    expect(server.metrics().overloadedRejections).toBe(3);
  });

  it('counts an origin quota the same way', async () => {
    server = await startDevServer({ maxConnectionsPerOrigin: 1, heartbeatMs: 60_000 });
    server.faults.delay(200);
    const headers = { Origin: 'http://app.test' };
    const opened = await Promise.all(
      Array.from({ length: 3 }, () =>
        openSse((server as DevServer).url, { token: devToken(), services: ['tasks'], headers }),
      ),
    );
    clients.push(...opened);
    expect(opened.map((c) => c.status).sort()).toEqual([200, 429, 429]);
  });
});
