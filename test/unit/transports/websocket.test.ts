import { describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { RealtimeError } from '../../../src/errors';
import { kit } from '../../../src/transports/kit';
import type { TransportConnection } from '../../../src/transports/types';
import { type WebSocketConstructorLike, websocketTransport } from '../../../src/transports/websocket';
import { fakeWebSocketClass, flush, recordingContext } from './fakes';

const WELCOME = '{"type":"welcome","connectionId":"c1","serverTime":1,"heartbeatMs":15000,"cursor":{}}';

function setup(overrides: Parameters<typeof recordingContext>[0] = {}) {
  const { WebSocket, sockets } = fakeWebSocketClass();
  const transport = websocketTransport({ WebSocket }, kit);
  const ctx = recordingContext(overrides);
  const settled: { connection?: TransportConnection; error?: unknown } = {};
  const promise = transport.connect(ctx).then(
    (connection) => {
      settled.connection = connection;
      return connection;
    },
    (error: unknown) => {
      settled.error = error;
      throw error;
    },
  );
  promise.catch(() => {});
  const socket = sockets[0]!;
  return { transport, ctx, socket, sockets, promise, settled };
}

async function connected(overrides: Parameters<typeof recordingContext>[0] = {}) {
  const s = setup(overrides);
  s.socket.serverOpen();
  s.socket.serverSend(WELCOME);
  const connection = await s.promise;
  return { ...s, connection };
}

describe('websocketTransport: options', () => {
  it('is named websocket', () => {
    expect(websocketTransport({}, kit).name).toBe('websocket');
  });

  it('accepts the ws package WebSocket class as the constructor', () => {
    const WebSocketClass: WebSocketConstructorLike = NodeWebSocket;
    expect(websocketTransport({ WebSocket: WebSocketClass }, kit).name).toBe('websocket');
  });

  it('rejects with transport_unavailable when the platform has no WebSocket', async () => {
    const original = (globalThis as { WebSocket?: unknown }).WebSocket;
    (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    try {
      await expect(websocketTransport({}, kit).connect(recordingContext())).rejects.toMatchObject({
        code: 'transport_unavailable',
      });
    } finally {
      (globalThis as { WebSocket?: unknown }).WebSocket = original;
    }
  });
});

describe('websocketTransport: connect', () => {
  it('opens ws://…/stream with services and propertyIds, and no token or cursor in the URL', () => {
    const { socket } = setup();
    expect(socket.url).toBe('ws://127.0.0.1:9/v2/realtime/stream?services=tasks,finance&propertyIds=p1');
  });

  it('uses a custom path', () => {
    const { WebSocket, sockets } = fakeWebSocketClass();
    websocketTransport({ WebSocket, path: '/socket' }, kit)
      .connect(recordingContext())
      .catch(() => {});
    expect(sockets[0]?.url).toBe('ws://127.0.0.1:9/v2/realtime/socket?services=tasks,finance&propertyIds=p1');
  });

  it('turns http into ws and https into wss, keeping the port and a query the base has', () => {
    const { WebSocket, sockets } = fakeWebSocketClass();
    for (const url of ['https://api.example.com/v2/realtime?tenant=x', 'http://127.0.0.1:443/rt']) {
      websocketTransport({ WebSocket }, kit)
        .connect(recordingContext({ url, services: ['a'], propertyIds: null }))
        .catch(() => {});
    }
    expect(sockets.map((socket) => socket.url)).toEqual([
      'wss://api.example.com/v2/realtime/stream?tenant=x&services=a',
      'ws://127.0.0.1:443/rt/stream?services=a',
    ]);
  });

  it('sends hello with token, subscription and cursor on open, and resolves on the first frame', async () => {
    const { socket, settled, promise, ctx } = setup();
    socket.serverOpen();
    expect(socket.sentFrames()).toEqual([
      {
        type: 'hello',
        token: 'tok',
        services: ['tasks', 'finance'],
        propertyIds: ['p1'],
        cursor: { tasks: 5 },
      },
    ]);
    await flush();
    expect(settled).toEqual({});
    socket.serverSend(WELCOME);
    await expect(promise).resolves.toBeDefined();
    expect(ctx.frames).toEqual([WELCOME]);
  });

  it('asks for binary messages as ArrayBuffer', () => {
    const { socket } = setup();
    expect(socket.binaryType).toBe('arraybuffer');
  });

  it('rejects with transport_unavailable when the socket closes before it opens (a refused upgrade)', async () => {
    const { socket, promise } = setup();
    socket.serverClose(1006);
    await expect(promise).rejects.toMatchObject({ code: 'transport_unavailable', status: 1006 });
  });

  it('rejects with transport_unavailable on an error before open, and closes the socket', async () => {
    const { socket, promise, ctx } = setup();
    socket.fail();
    socket.serverClose(1006);
    await expect(promise).rejects.toMatchObject({ code: 'transport_unavailable' });
    expect(ctx.closes).toEqual([]);
  });

  // A browser tells no status (a 404 looks like a server that is down): the URL is what the message can give.
  it('names the URL it opened, without query or credentials, on an error before open', async () => {
    const { socket, promise } = setup({ url: 'https://dev:pw@api.example.com/v2/realtime?token=s3cret' });
    socket.fail();
    await expect(promise).rejects.toMatchObject({
      message: 'WebSocket error before the server answered at wss://api.example.com/v2/realtime/stream',
    });
  });

  it.each([
    [4401, 'unauthorized', 401],
    [4403, 'forbidden', 403],
    [4429, 'overloaded', 429],
  ])('rejects a close with %i before the first frame as %s', async (closeCode, code, status) => {
    const { socket, promise } = setup();
    socket.serverOpen();
    socket.serverClose(closeCode);
    await expect(promise).rejects.toMatchObject({ code, status });
  });

  it('rejects when the first frame is an error frame, with its code, status and retryAfterMs', async () => {
    const { socket, promise, ctx } = setup();
    socket.serverOpen();
    socket.serverSend('{"type":"error","code":"overloaded","message":"busy","retryAfterMs":2000}');
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({ code: 'overloaded', status: 429, retryAfterMs: 2000, message: 'busy' });
    expect(socket.closedWith).toBe(1000);
    expect(ctx.frames).toEqual([]);
  });

  it('rejects a forbidden first frame as forbidden 403', async () => {
    const { socket, promise } = setup();
    socket.serverOpen();
    socket.serverSend('{"type":"error","code":"forbidden","message":"revoked"}');
    await expect(promise).rejects.toMatchObject({ code: 'forbidden', status: 403 });
  });

  it('treats a first frame that is not JSON as accepted and passes it on', async () => {
    const { socket, promise, ctx } = setup();
    socket.serverOpen();
    socket.serverSend('not json "error"');
    await expect(promise).resolves.toBeDefined();
    expect(ctx.frames).toEqual(['not json "error"']);
  });

  it('rejects at once when the signal is already aborted, without opening a socket', async () => {
    const { WebSocket, sockets } = fakeWebSocketClass();
    const ctx = recordingContext();
    ctx.abort.abort();
    await expect(websocketTransport({ WebSocket }, kit).connect(ctx)).rejects.toMatchObject({
      code: 'closed',
    });
    expect(sockets).toHaveLength(0);
  });

  it('rejects with the abort reason when aborted while opening, and closes the socket', async () => {
    const { socket, promise, ctx } = setup();
    const reason = new RealtimeError('connect_timeout', 'too slow');
    ctx.abort.abort(reason);
    await expect(promise).rejects.toBe(reason);
    expect(socket.closedWith).toBe(1000);
  });
});

describe('websocketTransport: a live connection', () => {
  it('passes text and binary messages to onFrame unchanged', async () => {
    const { socket, ctx } = await connected();
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    socket.serverSend('{"type":"heartbeat","serverTime":2}');
    socket.serverSend(bytes);
    socket.serverSend('garbage');
    expect(ctx.frames).toEqual([WELCOME, '{"type":"heartbeat","serverTime":2}', bytes, 'garbage']);
    expect(ctx.frames[2]).toBe(bytes);
  });

  it.each([
    [4401, { status: 401, code: 'unauthorized' }],
    [4403, { status: 403, code: 'forbidden' }],
    [4429, { status: 429, code: 'overloaded' }],
    [1006, { status: 1006 }],
    [1011, { status: 1011 }],
  ])('reports a server close with %i once through onClose', async (closeCode, reason) => {
    const { socket, ctx } = await connected();
    socket.serverClose(closeCode);
    socket.serverSend('late');
    expect(ctx.closes).toEqual([reason]);
    expect(ctx.frames).toEqual([WELCOME]);
  });

  it('keeps the error event that preceded the close in the reason', async () => {
    const { socket, ctx } = await connected();
    socket.fail();
    expect(ctx.closes).toEqual([]);
    socket.serverClose(1006);
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]).toMatchObject({ status: 1006, error: { type: 'error' } });
  });

  it('sends update and resolves', async () => {
    const { socket, connection } = await connected();
    await expect(connection.update(['tasks', 'crm'], null)).resolves.toBeUndefined();
    expect(socket.sentFrames().at(-1)).toEqual({
      type: 'update',
      services: ['tasks', 'crm'],
      propertyIds: null,
    });
  });

  it('sends auth with a refreshed token', async () => {
    const { socket, connection } = await connected();
    connection.setToken?.('tok2');
    expect(socket.sentFrames().at(-1)).toEqual({ type: 'auth', token: 'tok2' });
  });

  it('closes with 1000 and never calls onClose', async () => {
    const { socket, connection, ctx } = await connected();
    connection.close();
    await flush();
    expect(socket.closedWith).toBe(1000);
    socket.serverSend('after close');
    expect(ctx.closes).toEqual([]);
    expect(ctx.frames).toEqual([WELCOME]);
  });

  it('rejects update after the socket closed, and drops setToken quietly', async () => {
    const { socket, connection } = await connected();
    socket.serverClose(1006);
    await expect(connection.update(['a'], null)).rejects.toMatchObject({ code: 'connection_lost' });
    expect(() => connection.setToken?.('x')).not.toThrow();
    expect(socket.sentFrames().some((f) => (f as { type: string }).type === 'auth')).toBe(false);
  });

  it('treats an abort of the signal as close()', async () => {
    const { socket, ctx } = await connected();
    ctx.abort.abort();
    await flush();
    expect(socket.closedWith).toBe(1000);
    expect(ctx.closes).toEqual([]);
  });
});
