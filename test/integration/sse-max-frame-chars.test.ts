import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { closeAfterEach, until } from './devserver-helpers';

// `maxFrameChars` is the client's one bound on a frame ("Frames longer than
// this (characters) are dropped and counted"), and it has no upper limit. The
// WebSocket transport hands frames to the core, which applies it; but the SSE
// transport, named in `transports`, was given only `fetch` and kept its own
// parser bound at the 16 Mi default, applied to the whole `data: …` line. So
// over SSE:
// - a frame the app allowed (`maxFrameChars` raised past 16 Mi) was dropped
//   in the parser: the event never reached the app (a later batch's gap makes
//   the core reconnect, and the replay is dropped again);
// - a frame of exactly `maxFrameChars` (the core's bound is inclusive) was
//   dropped too, the `data: ` prefix pushing its line over;
// - and every such drop was silent: the parser's overflow reached nobody, so
//   `counters.invalidFrames` never showed it.

const BIG = 2 ** 24 + 1024; // just over 16 Mi characters
const { servers, clients } = closeAfterEach();

/** An SSE server that sends welcome, then one batch frame exactly `frameChars` characters long. */
async function sseServer(frameChars: number): Promise<{ base: string; streams: () => number }> {
  let streams = 0;
  const welcome = JSON.stringify({
    type: 'welcome',
    connectionId: 'c1',
    serverTime: Date.now(),
    heartbeatMs: 60_000,
    cursor: { tasks: 0 },
  });
  const batchOf = (blob: string): string =>
    JSON.stringify({
      type: 'batch',
      events: [
        {
          service: 'tasks',
          entityType: 'task',
          type: 'task.updated',
          eventId: 'e1',
          seq: 1,
          ts: Date.now(),
          orgId: 'org_1',
          data: { blob },
        },
      ],
      after: { tasks: 0 },
      cursor: { tasks: 1 },
    });
  const batch = batchOf('x'.repeat(frameChars - batchOf('').length));
  const server = createServer((req, res) => {
    if (!req.url?.includes('/stream')) {
      res.writeHead(404).end();
      return;
    }
    streams++;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const cursor = new URL(req.url, 'http://x').searchParams.get('cursor');
    res.write(`event: welcome\ndata: ${welcome}\n\n`);
    // A client that has the batch (its cursor says so) gets nothing more.
    if (cursor === null) res.write(`event: batch\ndata: ${batch}\n\n`);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/v2/realtime`, streams: () => streams };
}

function client(base: string, maxFrameChars?: number): RealtimeClient {
  const rt = createRealtime({
    url: base,
    transports: ['sse'],
    ...(maxFrameChars === undefined ? {} : { maxFrameChars }),
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  return rt;
}

it('delivers over SSE a frame within a maxFrameChars raised past 16 Mi', async () => {
  const server = await sseServer(BIG);
  const rt = client(server.base, 2 ** 25);
  const got: RealtimeEvent[] = [];
  rt.subscribe('tasks', (events) => got.push(...events));
  await until(() => got.length > 0 || server.streams() > 1, 10_000, 'the event, or a second stream');
  expect(got.map((event) => event.seq)).toEqual([1]);
  expect(rt.getState().counters.invalidFrames ?? 0).toBe(0);
});

it('delivers over SSE a frame of exactly maxFrameChars characters (the default, 16 Mi)', async () => {
  const server = await sseServer(2 ** 24);
  const rt = client(server.base);
  const got: RealtimeEvent[] = [];
  rt.subscribe('tasks', (events) => got.push(...events));
  await until(() => got.length > 0 || server.streams() > 1, 10_000, 'the event, or a second stream');
  expect(got.map((event) => event.seq)).toEqual([1]);
});

it('counts a frame over maxFrameChars (the default) dropped over SSE, as over any transport', async () => {
  const server = await sseServer(2 ** 24 + 1);
  const rt = client(server.base);
  rt.subscribe('tasks', () => {});
  await until(() => rt.getState().status === 'connected', 10_000, 'connected');
  await until(
    () => (rt.getState().counters.invalidFrames ?? 0) > 0,
    3000,
    'the oversized frame to be counted',
  );
});
