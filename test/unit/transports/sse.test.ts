import { describe, expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { decodeCursor } from '../../../src/protocol/cursor';
import { kit } from '../../../src/transports/kit';
import { sseTransport } from '../../../src/transports/sse';
import {
  type FetchCall,
  flush,
  pendingUntilAborted,
  recordingContext,
  scriptedFetch,
  streamingResponse,
} from './fakes';

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

  // A wrong `url` or a server that is down: the message says which URL, never its query or credentials.
  it('names the URL it asked, without query or credentials, in a status error and a network failure', async () => {
    const ctx = { url: 'http://dev:pw@127.0.0.1:9/v2/realtime?token=s3cret' };
    const notFound = scriptedFetch(() => new Response('', { status: 404 }));
    const refused = (await sseTransport({ fetch: notFound.fetch }, kit)
      .connect(recordingContext(ctx))
      .catch((e: unknown) => e)) as RealtimeError;
    expect(refused.message).toBe(
      "server answered HTTP 404 for http://127.0.0.1:9/v2/realtime/stream; is url the protocol's base path (e.g. …/v2/realtime)?",
    );
    const down = scriptedFetch(() => Promise.reject(new TypeError('fetch failed')));
    const failed = (await sseTransport({ fetch: down.fetch }, kit)
      .connect(recordingContext(ctx))
      .catch((e: unknown) => e)) as RealtimeError;
    expect(failed.message).toBe(
      'event stream request failed: no answer from the server at http://127.0.0.1:9/v2/realtime/stream',
    );
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

describe('sseTransport: setToken', () => {
  // A stream sends its token once: the server ends it when that token
  // expires. A refreshed token reopens it, from the core's cursor.
  const WELCOME_2 = WELCOME.replace('conn-1', 'conn-2');
  const isGet = (call: FetchCall) => call.init.method !== 'POST';

  /** A connected transport whose core cursor the test sets; each GET answers with the next of `answers`. */
  async function reopening(
    answers: Array<(call: FetchCall) => Response | Promise<Response>>,
    onPost: (call: FetchCall) => Response | Promise<Response> = () => json(200, { cursor: {} }),
  ) {
    const first = streamingResponse();
    let gets = 0;
    const { fetch, calls } = scriptedFetch((call) =>
      call.init.method === 'POST' ? onPost(call) : gets++ === 0 ? first.response : answers[gets - 2]!(call),
    );
    const core = { cursor: { tasks: 5 } as Record<string, number> };
    const ctx = recordingContext({ getCursor: () => core.cursor });
    const connection = await sseTransport({ fetch }, kit).connect(ctx);
    first.write(`event: welcome\ndata: ${WELCOME}\n\nevent: batch\ndata: b6\n\n`);
    await flush();
    core.cursor = { tasks: 6 };
    return { first, calls, ctx, core, connection };
  }

  it('reopens the stream with the new token from the core cursor, and reads only the new one', async () => {
    const second = streamingResponse();
    const { first, calls, ctx, connection } = await reopening([() => second.response]);
    connection.setToken?.('fresh');
    await flush();
    const gets = calls.filter(isGet);
    expect(gets).toHaveLength(2);
    expect(gets[1]!.headers.get('authorization')).toBe('Bearer fresh');
    expect(decodeCursor(gets[1]!.headers.get('last-event-id') ?? '')).toEqual({ tasks: 6 });
    expect(new URL(gets[1]!.url).searchParams.get('services')).toBe('tasks,finance');
    expect(new URL(gets[1]!.url).searchParams.get('propertyIds')).toBe('p1');
    // The old stream was cancelled, so the server lets its connection go.
    expect(() => first.write('event: batch\ndata: old\n\n')).toThrow();
    second.write(`event: welcome\ndata: ${WELCOME_2}\n\nevent: batch\ndata: b7\n\n`);
    await flush();
    expect(ctx.frames).toEqual([WELCOME, 'b6', WELCOME_2, 'b7']);
    // Subscription changes go to the new stream's connection, with the new token.
    await connection.update(['tasks'], null);
    const post = calls.at(-1)!;
    expect(JSON.parse(String(post.init.body))).toMatchObject({ connectionId: 'conn-2' });
    expect(post.headers.get('authorization')).toBe('Bearer fresh');
    expect(ctx.closes).toEqual([]);
    // The new stream's end is the connection's.
    second.end();
    await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]!.error).toMatchObject({ code: 'connection_lost' });
  });

  it('sends an update asked during the reopen to the new connection once it is welcomed', async () => {
    const second = streamingResponse();
    const { calls, connection } = await reopening([() => second.response]);
    connection.setToken?.('fresh');
    await flush();
    expect(calls.filter(isGet)).toHaveLength(2);
    const pending = connection.update(['tasks', 'crm'], null);
    await flush();
    expect(calls.filter((call) => !isGet(call))).toEqual([]);
    second.write(`event: welcome\ndata: ${WELCOME_2}\n\n`);
    await expect(pending).resolves.toEqual({ cursor: {} });
    expect(JSON.parse(String(calls.at(-1)!.init.body))).toMatchObject({
      connectionId: 'conn-2',
      services: ['tasks', 'crm'],
    });
  });

  it('waits for an update in flight, then reopens with its subscription and the cursor the core took from it', async () => {
    let answer!: (response: Response) => void;
    const second = streamingResponse();
    const { calls, ctx, core, connection } = await reopening(
      [() => second.response],
      () => new Promise<Response>((resolve) => (answer = resolve)),
    );
    const pending = connection.update(['tasks', 'crm'], null);
    // The core's reaction to the answer: the added service starts at its cursor.
    void pending.then((result) => {
      core.cursor = { ...core.cursor, ...(result as { cursor: Record<string, number> }).cursor };
    });
    await flush();
    connection.setToken?.('fresh');
    await flush();
    // The update went to the old stream's connection, which must stay until it is answered.
    expect(calls.filter(isGet)).toHaveLength(1);
    answer(json(200, { cursor: { crm: 41 } }));
    await expect(pending).resolves.toEqual({ cursor: { crm: 41 } });
    await flush();
    const gets = calls.filter(isGet);
    expect(gets).toHaveLength(2);
    const url = new URL(gets[1]!.url);
    expect(url.searchParams.get('services')).toBe('tasks,crm');
    expect(url.searchParams.has('propertyIds')).toBe(false);
    expect(decodeCursor(gets[1]!.headers.get('last-event-id') ?? '')).toEqual({ tasks: 6, crm: 41 });
    expect(ctx.closes).toEqual([]);
  });

  it('ends the connection with the error of a refused reopen, as a failed reconnect', async () => {
    const { ctx, connection } = await reopening([() => json(401, { code: 'unauthorized' })]);
    connection.setToken?.('fresh');
    await flush();
    // Waits for the new stream's welcome, which never comes.
    const pending = connection.update(['tasks'], null);
    // The refusal's body is read first.
    for (let i = 0; i < 20 && ctx.closes.length === 0; i++) await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]!.error).toMatchObject({ code: 'unauthorized', status: 401 });
    await expect(pending).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('close() during a reopen aborts it and reports nothing', async () => {
    const { calls, ctx, connection } = await reopening([(call) => pendingUntilAborted(call.signal)]);
    connection.setToken?.('fresh');
    await flush();
    connection.close();
    await flush();
    expect(calls.filter(isGet)[1]!.signal?.aborted).toBe(true);
    expect(ctx.closes).toEqual([]);
  });

  it('keeps the stream when the core gives no getCursor', async () => {
    const { connection, calls } = await connected();
    connection.setToken?.('fresh');
    await flush();
    expect(calls).toHaveLength(1);
  });
});
