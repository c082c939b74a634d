import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import { closeAfterEach, until } from './devserver-helpers';

// Over the HTTP transports a subscription change is `POST /update-services`,
// a fetch with no timeout, and the connection loop allows one update at a
// time (the next waits for it). A POST that never gets an answer (a
// keep-alive connection a NAT or a proxy silently dropped: the request hangs
// until TCP gives up, many minutes later) while the event stream itself is
// healthy left every later subscription change waiting behind it: a service
// subscribed to meanwhile got no event, and nothing said so (`connected`).
// `connectTimeoutMs` bounds every other wait for the server: it bounds this
// one too, and the loop then reconnects, which subscribes to the current needs.

const { servers, clients } = closeAfterEach();

/** SSE streams that welcome and stay open; update POSTs that are never answered. */
async function hangingUpdates(): Promise<{ base: string; streamServices: string[]; posts: () => number }> {
  const streamServices: string[] = [];
  let posts = 0;
  let connection = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname.endsWith('/update-services')) {
      posts++;
      return; // never answered
    }
    if (!url.pathname.endsWith('/stream')) {
      res.writeHead(404).end();
      return;
    }
    streamServices.push(url.searchParams.get('services') ?? '');
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const welcome = {
      type: 'welcome',
      connectionId: `c${++connection}`,
      serverTime: Date.now(),
      heartbeatMs: 200,
      cursor: {},
    };
    res.write(`event: welcome\ndata: ${JSON.stringify(welcome)}\n\n`);
    const beat = setInterval(
      () =>
        res.write(
          `event: heartbeat\ndata: ${JSON.stringify({ type: 'heartbeat', serverTime: Date.now() })}\n\n`,
        ),
      100,
    );
    res.on('close', () => clearInterval(beat));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/v2/realtime`, streamServices, posts: () => posts };
}

it('a subscription change whose update-services never answers still reaches the server', async () => {
  const server = await hangingUpdates();
  const rt = createRealtime({
    url: server.base,
    transports: ['sse'],
    connectTimeoutMs: 300,
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  await until(() => rt.getState().status === 'connected', 3000, 'connected');
  rt.subscribe('finance', () => {});
  await until(() => server.posts() === 1, 3000, 'the update POST');
  // The stream is healthy (heartbeats), so only a bound on the update helps.
  await until(
    () => server.streamServices.some((services) => services.split(',').includes('finance')),
    3000,
    'a stream that carries finance',
  );
  expect(server.streamServices[0]).toBe('tasks');
});
