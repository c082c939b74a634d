import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import { closeAfterEach, sleep, until } from './devserver-helpers';

// A proxy or CDN in front of the backend that answers `/poll` at once (a
// cached 204, a buffering proxy cutting held requests short, a server that
// ignores `wait`): the long-poll loop sent the next poll the moment an answer
// came, so every browser asked hundreds of times a second, for good (a 204 is
// a heartbeat: nothing counted it against the connection). It now waits
// 1 s, 2 s, 4 s, … between such answers.

const { servers, clients } = closeAfterEach();

/** Welcomes the first poll; answers every later one with an instant 204. */
async function instant204s(): Promise<{ base: string; polls: () => number }> {
  let polls = 0;
  const server = createServer((req, res) => {
    if (!req.url?.includes('/poll')) {
      res.writeHead(404).end();
      return;
    }
    if (polls++ > 0) {
      res.writeHead(204).end();
      return;
    }
    const welcome = {
      type: 'welcome',
      connectionId: 'c1',
      serverTime: Date.now(),
      heartbeatMs: 25_000,
      cursor: {},
    };
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ frames: [welcome] }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/v2/realtime`, polls: () => polls };
}

it('a backend answering every poll at once with a 204 gets a few polls, not hundreds', async () => {
  const server = await instant204s();
  const rt = createRealtime({
    url: server.base,
    transports: ['long-poll'],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  await until(() => rt.getState().status === 'connected', 3000, 'connected');
  await sleep(3000);
  // The opening poll, then polls 0, 1 and 3 s into the loop.
  expect(server.polls()).toBeLessThanOrEqual(5);
  expect(server.polls()).toBeGreaterThanOrEqual(3);
  expect(rt.getState().status).toBe('connected');
});
