import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { closeAfterEach, closingAfterEach, devClient, record, sleep, until } from './devserver-helpers';

// A cache or proxy in front of the backend that stored a poll's answer, a
// heartbeat, and replays it at once: while nothing is new the cursor does
// not move, so every poll has the same URL. An answer with a heartbeat ended
// the long-poll pacing (a server may send its heartbeat well under a second
// after a poll came), so every browser polled in a hot loop, for good. A
// replayed heartbeat, whose serverTime does not move, is now paced as an
// instant 204.

const ORG = 'org_lp_cached_heartbeat';
const closing = closingAfterEach();
const { servers } = closeAfterEach();

/**
 * Forwards the opening poll and the rest to the dev server at `target`, and
 * answers every poll of a live connection at once with the heartbeat it
 * stored at the first (the dev server answers an idle poll with a 204 when
 * `wait` is up, and sends no heartbeat frames over long-poll: the stored
 * answer stands for a backend that does).
 */
async function replayingProxy(target: string) {
  let stored: string | undefined;
  let replays = 0;
  const server = createServer(async (req, res) => {
    if (req.url?.includes('/poll') && req.url.includes('connectionId=')) {
      stored ??= JSON.stringify({ frames: [{ type: 'heartbeat', serverTime: Date.now() }] });
      replays++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(stored);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const answer = await fetch(new URL(req.url ?? '/', target), {
      method: req.method,
      headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
      body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(await answer.text());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${new URL(target).pathname}`, replays: () => replays };
}

it('a proxy replaying a stored heartbeat answer at once gets a few polls, not hundreds', async () => {
  const dev = closing(await startDevServer({ batchWindowMs: { min: 1, max: 5 } }));
  const front = await replayingProxy(dev.url);
  const client = closing(devClient(front.url, ORG, 'long-poll'));
  record(client);
  await until(() => client.getState().status === 'connected', 5000, 'connected');
  await until(() => front.replays() > 0, 5000, 'the first replay');
  await sleep(3500);
  // Polls 0, 1 and 3 s into the loop (the next goes at 7 s, then every 8 s).
  expect(front.replays()).toBeGreaterThanOrEqual(2);
  expect(front.replays()).toBeLessThanOrEqual(4);
  // Each replay is still a heartbeat for the core's watchdog.
  expect(client.getState().status).toBe('connected');
});
