import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import type { DevServer } from '../../src/devserver/types';
import { parseServerFrame } from '../../src/protocol/parse';
import type { ServerFrame } from '../../src/protocol/schemas';
import { kit } from '../../src/transports/kit';
import { sseTransport } from '../../src/transports/sse';
import type { TransportConnection } from '../../src/transports/types';
import { until } from './devserver-helpers';

// Over SSE a frame larger than `maxFrameChars` whose
// bytes came in several chunks (any proxy re-chunks; a large frame always
// spans reads) made the parser drop the frame AFTER it as well.

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ batchWindowMs: { min: 1, max: 5 }, heartbeatMs: 60_000 });
});
afterAll(async () => {
  await server?.close();
});

/** `fetch` whose response body arrives in pieces of `size` bytes, as through a re-chunking proxy. */
function rechunkingFetch(size: number): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.body === null) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        for (let i = 0; i < value.length; i += size) controller.enqueue(value.slice(i, i + size));
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

it('drops an oversized SSE frame and still delivers the frame after it', async () => {
  const orgId = 'org_sse_oversized';
  const frames: ServerFrame[] = [];
  const abort = new AbortController();
  const transport = sseTransport({ fetch: rechunkingFetch(16), maxFrameChars: 1000 }, kit);
  const connection: TransportConnection = await transport.connect({
    url: server.url,
    token: server.issueToken(orgId, 'u_1').token,
    services: ['tasks'],
    propertyIds: null,
    cursor: {},
    onFrame: (raw) => {
      const parsed = parseServerFrame(raw);
      if (parsed.ok) frames.push(parsed.frame);
    },
    onClose: () => {},
    signal: abort.signal,
  });
  try {
    await until(() => frames.some((f) => f.type === 'welcome'), 5000, 'welcome');
    // A frame over the bound (the transport drops it), then an ordinary one.
    server.faults.sendRaw(orgId, JSON.stringify({ type: 'heartbeat', serverTime: 1, pad: 'x'.repeat(5000) }));
    server.publish(orgId, { service: 'tasks', entityType: 'task', type: 'tasks.updated', data: {} });
    await until(() => frames.some((f) => f.type === 'batch'), 5000, 'the batch after the oversized frame');
    expect(frames.filter((f) => f.type === 'heartbeat')).toEqual([]);
  } finally {
    connection.close();
    abort.abort();
  }
});
