import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import {
  devToken,
  isType,
  ORG,
  openSse,
  openWsStream,
  type SseClient,
  sleep,
  task,
  type WsClient,
} from './devserver-helpers';

// A consumer that stops reading for good (a frozen tab, a process stopped in a
// debugger, a proxy that holds the stream) has every frame of its critical
// services queued for it: the quarantine sheds only low-tier services. Without
// a ceiling the server's memory grows with every event published to the org,
// for as long as the socket stays open, which is for ever. At
// `quarantine.dropQueueBytes` the connection is dropped as a network cut
// would; the client reconnects with its cursor and is replayed.
describe('dev server and a consumer that never reads', () => {
  let server: DevServer | undefined;
  const clients: (SseClient | WsClient)[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) {
      if ('ws' in c) c.ws.terminate();
      else c.close();
    }
    await server?.close();
    server = undefined;
  });

  const options = {
    batchWindowMs: { min: 1, max: 1 },
    heartbeatMs: 60_000,
    quarantine: { queueLimitBytes: 64 * 1024, dropQueueBytes: 1024 * 1024 },
  };
  const big = { blob: 'x'.repeat(16 * 1024) };

  /** Publishes big `tasks` events until `done()` or ~40 MB went out. */
  async function flood(done: () => boolean): Promise<void> {
    for (let i = 0; i < 2500 && !done(); i++) {
      (server as DevServer).publish(ORG, task({ data: big }));
      if (i % 20 === 19) await sleep(2);
    }
  }

  it('drops a stalled SSE stream once its queue passes dropQueueBytes, and keeps the others', async () => {
    server = await startDevServer(options);
    const stuck = await openSse(server.url, { token: devToken(), services: ['tasks'] });
    clients.push(stuck);
    const welcome = await stuck.frames.waitFor(isType('welcome'));
    stuck.pause();
    const healthy = await openSse(server.url, { token: devToken(), services: ['tasks'] });
    clients.push(healthy);
    const healthyWelcome = await healthy.frames.waitFor(isType('welcome'));

    const alive = () => server?.connections().some((c) => c.connectionId === welcome.connectionId) ?? false;
    await flood(() => !alive());
    expect(alive()).toBe(false);
    expect(server.connections().map((c) => c.connectionId)).toEqual([healthyWelcome.connectionId]);
    expect(server.metrics().slowConsumerDrops).toBe(1);
    // The socket is gone too, not only forgotten: the client sees the cut once it reads again.
    stuck.resume();
    expect(await stuck.ended).toBe('aborted');
  });

  it('drops a stalled WebSocket the same way', async () => {
    server = await startDevServer(options);
    const stuck = await openWsStream(server.url, { token: devToken(), services: ['tasks'] });
    clients.push(stuck);
    const welcome = await stuck.frames.waitFor(isType('welcome'));
    stuck.ws.pause();

    const alive = () => server?.connections().some((c) => c.connectionId === welcome.connectionId) ?? false;
    await flood(() => !alive());
    expect(alive()).toBe(false);
    expect(server.metrics().slowConsumerDrops).toBe(1);
    stuck.ws.resume();
    const closed = await stuck.closed;
    expect(closed.code).toBe(1006); // abnormal closure: no close frame
  });

  it('rejects a dropQueueBytes below queueLimitBytes', async () => {
    await expect(
      startDevServer({ quarantine: { queueLimitBytes: 1024, dropQueueBytes: 512 } }),
    ).rejects.toThrow(/quarantine\.dropQueueBytes/);
  });
});
