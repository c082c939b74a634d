import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import { kit } from '../../src/transports/kit';
import { longPollTransport } from '../../src/transports/long-poll';
import { sseTransport } from '../../src/transports/sse';
import type { Transport, TransportCloseReason, TransportContext } from '../../src/transports/types';
import { closeAfterEach, sleep, until } from './devserver-helpers';

// A refusal (401, 403, 429/503, 400) may explain itself in a JSON body, so the
// SSE transport reads it. But it stopped linking the core's abort signal to
// its request as soon as the headers were in: a server (or a proxy) that sends
// the refusal's headers and then trickles, or never ends, the body held
// `connect` pending for good. The core's connect timeout aborted the signal,
// moved on, and left that request open: one more HTTP connection leaked per
// attempt, for the life of the page (browsers allow 6 per host over
// HTTP/1.1, shared with the app's own API calls), and not even `rt.close()`
// freed them. Long-poll keeps its abort linked while it reads the body.

const { servers, clients } = closeAfterEach();

/** A server whose every request gets `status` with a JSON body that never ends. */
async function stallingRefusal(
  status: number,
): Promise<{ base: string; open: () => number; total: () => number }> {
  const live = new Set<IncomingMessage>();
  let total = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    total++;
    live.add(req);
    res.on('close', () => live.delete(req));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Retry-After': '0' });
    res.write('{"type":"error","code":"overloaded","mess');
    // ... and nothing more.
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/v2/realtime`, open: () => live.size, total: () => total };
}

function context(url: string, signal: AbortSignal): TransportContext {
  return {
    url,
    token: 'tok',
    services: ['tasks'],
    propertyIds: null,
    cursor: {},
    onFrame: () => {},
    onClose: (_reason: TransportCloseReason) => {},
    signal,
  };
}

/**
 * Aborts `transport`'s connect while the refusal's body (of `status`) is
 * still coming; returns how connect ended and leaves the check that the
 * request was freed to the caller's `until`.
 */
async function abortDuringRefusalBody(transport: Transport, status: number): Promise<unknown> {
  const server = await stallingRefusal(status);
  const abort = new AbortController();
  const settled = transport.connect(context(server.base, abort.signal)).then(
    () => 'resolved',
    (error: unknown) => (error as { code?: string }).code,
  );
  await until(() => server.open() === 1, 3000, 'the request');
  // Headers are in, the body is not.
  await sleep(100);
  abort.abort();
  const outcome = await Promise.race([
    settled,
    new Promise((resolve) => setTimeout(() => resolve('still pending'), 1000)),
  ]);
  await until(() => server.open() === 0, 3000, 'the request to be closed');
  return outcome;
}

for (const status of [401, 429]) {
  it(`sse: an abort while a ${status}'s body is still coming rejects connect and frees the request`, async () => {
    expect(await abortDuringRefusalBody(sseTransport({}, kit), status)).toBe('closed');
  });
}

it('long-poll (the control): an abort while a refusal body is still coming frees the request', async () => {
  expect(await abortDuringRefusalBody(longPollTransport({}, kit), 429)).toBe('closed');
});

it('a client on SSE leaves no request open behind its connect timeouts', async () => {
  const server = await stallingRefusal(503);
  const rt = createRealtime({
    url: server.base,
    transports: ['sse'],
    connectTimeoutMs: 150,
    backoff: { baseMs: 10, capMs: 20 },
    circuit: { failureThreshold: 100 },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  await until(() => server.total() >= 3, 5000, 'three attempts');
  // Every attempt but the one under way was given up by the core: its request must be gone.
  await until(() => server.open() <= 1, 3000, 'earlier attempts to be closed');
  await rt.close();
  await until(() => server.open() === 0, 3000, 'every request to be closed after close()');
});
