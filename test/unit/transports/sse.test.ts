import { describe, expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { decodeCursor } from '../../../src/protocol/cursor';
import { kit } from '../../../src/transports/kit';
import { sseTransport } from '../../../src/transports/sse';
import { type FetchCall, flush, recordingContext, scriptedFetch, streamingResponse } from './fakes';

const WELCOME = '{"type":"welcome","connectionId":"conn-1","serverTime":1,"heartbeatMs":15000,"cursor":{}}';

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A connected SSE transport whose stream and POST answers the test controls. */
async function connected(
  onPost: (call: FetchCall) => Response | Promise<Response> = () => json(200, { cursor: { crm: 0 } }),
  overrides: Parameters<typeof recordingContext>[0] = {},
) {
  const stream = streamingResponse();
  const { fetch, calls } = scriptedFetch((call) =>
    call.init.method === 'POST' ? onPost(call) : stream.response,
  );
  const ctx = recordingContext(overrides);
  const connection = await sseTransport({ fetch }, kit).connect(ctx);
  return { stream, calls, ctx, connection };
}

describe('sseTransport: options', () => {
  it('is named sse', () => {
    expect(sseTransport({}, kit).name).toBe('sse');
  });
});

describe('sseTransport: connect', () => {
  it('GETs /stream with the subscription in the query and token and cursor in headers', async () => {
    const { calls } = await connected();
    const call = calls[0]!;
    const url = new URL(call.url);
    expect(url.pathname).toBe('/v2/realtime/stream');
    expect(url.searchParams.get('services')).toBe('tasks,finance');
    expect(url.searchParams.get('propertyIds')).toBe('p1');
    expect(call.url).not.toContain('tok');
    expect(call.headers.get('accept')).toBe('text/event-stream');
    expect(call.headers.get('authorization')).toBe('Bearer tok');
    expect(decodeCursor(call.headers.get('last-event-id') ?? '')).toEqual({ tasks: 5 });
    expect(call.init.cache).toBe('no-store');
    expect(call.signal).toBeInstanceOf(AbortSignal);
  });

  it('sends neither Authorization nor Last-Event-ID when there is no token or cursor', async () => {
    const { calls } = await connected(undefined, { token: undefined, cursor: {} });
    expect(calls[0]!.headers.has('authorization')).toBe(false);
    expect(calls[0]!.headers.has('last-event-id')).toBe(false);
    expect(calls[0]!.url).not.toContain('cursor=');
  });

  it.each([
    [401, 'unauthorized', undefined],
    [403, 'forbidden', undefined],
    [429, 'overloaded', 3000],
    [503, 'overloaded', 3000],
    [500, 'server_error', undefined],
    [404, 'transport_unavailable', undefined],
  ])('rejects a %i answer as %s with the status', async (status, code, retryAfterMs) => {
    const { fetch } = scriptedFetch(() => new Response('no', { status, headers: { 'Retry-After': '3' } }));
    const error = await sseTransport({ fetch }, kit)
      .connect(recordingContext())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({ code, status });
    expect((error as RealtimeError).retryAfterMs).toBe(retryAfterMs);
  });

  it('rejects a 200 that is not an event stream as transport_unavailable', async () => {
    const { fetch } = scriptedFetch(
      () => new Response('<html>', { status: 200, headers: { 'Content-Type': 'text/html' } }),
    );
    await expect(sseTransport({ fetch }, kit).connect(recordingContext())).rejects.toMatchObject({
      code: 'transport_unavailable',
      status: 200,
    });
  });

  it('rejects a network failure as transport_unavailable', async () => {
    const { fetch } = scriptedFetch(() => Promise.reject(new TypeError('fetch failed')));
    await expect(sseTransport({ fetch }, kit).connect(recordingContext())).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
  });

  it('rejects with the abort reason when aborted while waiting for the answer', async () => {
    const { fetch, calls } = scriptedFetch(
      (call) =>
        new Promise((_, reject) =>
          call.signal?.addEventListener('abort', () => reject(new DOMException('x', 'AbortError'))),
        ),
    );
    const ctx = recordingContext();
    const promise = sseTransport({ fetch }, kit).connect(ctx);
    await flush();
    const reason = new RealtimeError('connect_timeout', 'slow');
    ctx.abort.abort(reason);
    await expect(promise).rejects.toBe(reason);
    expect(calls[0]!.signal?.aborted).toBe(true);
  });
});

describe('sseTransport: the stream', () => {
  it('passes each message data to onFrame in order, across any chunking', async () => {
    const { stream, ctx } = await connected();
    stream.write(`event: welcome\ndata: ${WELCOME.slice(0, 10)}`);
    stream.write(`${WELCOME.slice(10)}\n\nevent: heartbeat\r\ndata: {"type":"heartbeat",`);
    stream.write('"serverTime":2}\r\n\r\n: comment\n\nid: abc\nevent: batch\ndata: not json\n\n');
    await flush();
    await flush();
    expect(ctx.frames).toEqual([WELCOME, '{"type":"heartbeat","serverTime":2}', 'not json']);
  });

  it('calls onClose once when the stream ends', async () => {
    const { stream, ctx } = await connected();
    stream.write(`data: ${WELCOME}\n\n`);
    stream.end();
    await flush();
    await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]!.error).toMatchObject({ code: 'connection_lost' });
  });

  it('calls onClose once when the stream fails', async () => {
    const { stream, ctx } = await connected();
    stream.error(new TypeError('network reset'));
    await flush();
    await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]!.error).toMatchObject({
      code: 'connection_lost',
      cause: new TypeError('network reset'),
    });
  });

  it('close() stops delivery and never calls onClose', async () => {
    const { stream, ctx, connection, calls } = await connected();
    connection.close();
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(() => stream.write('data: late\n\n')).toThrow(); // the body was cancelled
    await flush();
    expect(ctx.frames).toEqual([]);
    expect(ctx.closes).toEqual([]);
  });

  it('treats an abort of the signal as close()', async () => {
    const { ctx, calls } = await connected();
    ctx.abort.abort();
    await flush();
    await flush();
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(ctx.closes).toEqual([]);
  });
});

describe('sseTransport: update', () => {
  it('POSTs the connection id from welcome and the new subscription, and resolves with the cursor', async () => {
    const { stream, connection, calls } = await connected(() => json(200, { cursor: { crm: 41 } }));
    stream.write(`event: welcome\ndata: ${WELCOME}\n\n`);
    await flush();
    await expect(connection.update(['tasks', 'crm'], null)).resolves.toEqual({ cursor: { crm: 41 } });
    const post = calls[1]!;
    expect(post.url).toBe('http://127.0.0.1:9/v2/realtime/update-services');
    expect(post.init.method).toBe('POST');
    expect(post.headers.get('authorization')).toBe('Bearer tok');
    expect(post.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(String(post.init.body))).toEqual({
      connectionId: 'conn-1',
      services: ['tasks', 'crm'],
      propertyIds: null,
    });
  });

  it('waits for the welcome when update comes first', async () => {
    const { stream, connection, calls } = await connected();
    const pending = connection.update(['crm'], ['p2']);
    await flush();
    expect(calls).toHaveLength(1);
    stream.write(`event: welcome\ndata: ${WELCOME}\n\n`);
    await expect(pending).resolves.toEqual({ cursor: { crm: 0 } });
    expect(JSON.parse(String(calls[1]!.init.body))).toMatchObject({ connectionId: 'conn-1' });
  });

  it('only reads the connection id from a message whose event is welcome', async () => {
    const { stream, connection, calls } = await connected();
    stream.write(`data: ${WELCOME.replace('conn-1', 'wrong')}\n\nevent: welcome\ndata: ${WELCOME}\n\n`);
    await flush();
    await connection.update(['a'], null);
    expect(JSON.parse(String(calls[1]!.init.body))).toMatchObject({ connectionId: 'conn-1' });
  });

  it('uses the token given by setToken', async () => {
    const { stream, connection, calls } = await connected();
    stream.write(`event: welcome\ndata: ${WELCOME}\n\n`);
    connection.setToken?.('fresh');
    await connection.update(['a'], null);
    expect(calls[1]!.headers.get('authorization')).toBe('Bearer fresh');
  });

  it('rejects with the mapped error of a non-200 answer', async () => {
    const { stream, connection } = await connected(() => json(403, { code: 'forbidden' }));
    stream.write(`event: welcome\ndata: ${WELCOME}\n\n`);
    await expect(connection.update(['a'], null)).rejects.toMatchObject({ code: 'forbidden', status: 403 });
  });

  it('rejects an answer that is not { cursor } as invalid_frame', async () => {
    const { stream, connection } = await connected(() => json(200, { cursor: { tasks: 'x' } }));
    stream.write(`event: welcome\ndata: ${WELCOME}\n\n`);
    await expect(connection.update(['a'], null)).rejects.toMatchObject({ code: 'invalid_frame' });
  });

  it('rejects a waiting update when the stream ends before the welcome', async () => {
    const { stream, connection } = await connected();
    const pending = connection.update(['a'], null);
    stream.end();
    await expect(pending).rejects.toMatchObject({ code: 'connection_lost' });
    await expect(connection.update(['a'], null)).rejects.toMatchObject({ code: 'connection_lost' });
  });
});
