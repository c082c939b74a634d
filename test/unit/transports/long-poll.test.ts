import { afterEach, describe, expect, it, vi } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { decodeCursor } from '../../../src/protocol/cursor';
import { parseServerFrame } from '../../../src/protocol/parse';
import type { Cursor } from '../../../src/protocol/schemas';
import { kit } from '../../../src/transports/kit';
import { longPollTransport } from '../../../src/transports/long-poll';
import {
  type FetchCall,
  flush,
  POLL_WELCOME,
  pendingUntilAborted,
  recordingContext,
  scriptedFetch,
  streamingResponse,
} from './fakes';

const WELCOME = POLL_WELCOME;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

function batch(service: string, after: number, to: number) {
  const events = [];
  for (let seq = after + 1; seq <= to; seq++) {
    events.push({ service, entityType: 't', type: 't.updated', seq, ts: 1, orgId: 'o' });
  }
  return { type: 'batch', events, after: { [service]: after }, cursor: { [service]: to } };
}

type Answer = (call: FetchCall) => Response | Promise<Response>;

/**
 * A fetch that answers the first poll with `first`, then each later GET with
 * the next queued answer (a poll with nothing queued gets what `unqueued`
 * answers, or waits until aborted), and POSTs with `onPost`.
 */
function server(
  first: Answer,
  onPost: Answer = () => json(200, { cursor: {} }),
  unqueued: (call: FetchCall) => Response | undefined = () => undefined,
) {
  const queue: Answer[] = [];
  const { fetch, calls } = scriptedFetch((call, index) => {
    if (call.init.method === 'POST') return onPost(call);
    if (index === 0) return first(call);
    const next = queue.shift();
    // At most 50 polls: a loop polling at once ends there, for the test to see.
    return next
      ? next(call)
      : ((index < 50 ? unqueued(call) : undefined) ?? pendingUntilAborted(call.signal));
  });
  const polls = () => calls.filter((c) => c.init.method !== 'POST');
  return { fetch, calls, polls, queue };
}

const query = (call: FetchCall) => new URL(call.url).searchParams;

// A test that answers a poll at once with nothing (a 204) meets the pause
// before the next poll (long-poll-pacing.test.ts): it runs on fake timers.
afterEach(() => {
  vi.useRealTimers();
});

describe('longPollTransport: options', () => {
  it('is named long-poll', () => {
    expect(longPollTransport({}, kit).name).toBe('long-poll');
  });
});

describe('longPollTransport: connect', () => {
  it('makes a first poll without connectionId and with wait=0, then resolves with the frames delivered as objects', async () => {
    const first = batch('tasks', 5, 6);
    const s = server(() => json(200, { frames: [WELCOME, first] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    const call = s.calls[0]!;
    expect(new URL(call.url).pathname).toBe('/v2/realtime/poll');
    expect(query(call).has('connectionId')).toBe(false);
    expect(query(call).get('wait')).toBe('0');
    expect(query(call).get('services')).toBe('tasks,finance');
    expect(query(call).get('propertyIds')).toBe('p1');
    expect(decodeCursor(query(call).get('cursor') ?? '')).toEqual({ tasks: 5 });
    expect(call.headers.get('authorization')).toBe('Bearer tok');
    expect(call.url).not.toContain('tok');
    expect(ctx.frames).toEqual([WELCOME, first]);
    expect(typeof ctx.frames[0]).toBe('object');
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [429, 'overloaded'],
    [404, 'transport_unavailable'],
  ])('rejects a %i first answer as %s with the status', async (status, code) => {
    const s = server(() => json(status, { code }));
    const error = await longPollTransport({ fetch: s.fetch }, kit)
      .connect(recordingContext())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({ code, status });
  });

  it.each([
    ['does not start with welcome', () => json(200, { frames: [batch('tasks', 5, 6)] })],
    ['is not { frames }', () => json(200, { items: [] })],
    ['is not JSON', () => new Response('<html>', { status: 200 })],
    ['is a 204', () => new Response(null, { status: 204 })],
    // encodeURIComponent throws on it: the loop's first poll died unhandled.
    [
      'names a connection no URL can carry (a lone surrogate)',
      () => json(200, { frames: [{ ...WELCOME, connectionId: 'lp-\uD800' }] }),
    ],
  ])('rejects a first answer that %s as transport_unavailable', async (_, answer) => {
    const s = server(answer);
    await expect(
      longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext()),
    ).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
  });

  it('rejects a network failure as transport_unavailable', async () => {
    const s = server(() => Promise.reject(new TypeError('fetch failed')));
    await expect(
      longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext()),
    ).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
  });
});

describe('longPollTransport: the poll loop', () => {
  async function connected(overrides: Parameters<typeof recordingContext>[0] = {}, waitSeconds?: number) {
    const s = server(
      () => json(200, { frames: [WELCOME] }),
      () => json(200, { cursor: { crm: 10 } }),
    );
    const ctx = recordingContext(overrides);
    const connection = await longPollTransport({ fetch: s.fetch, waitSeconds, now: () => 777 }, kit).connect(
      ctx,
    );
    await flush();
    return { ...s, ctx, connection };
  }

  it('polls again at once with connectionId, the subscription and wait', async () => {
    const { polls } = await connected({}, 7);
    expect(polls()).toHaveLength(2);
    const second = query(polls()[1]!);
    expect(second.get('connectionId')).toBe('lp-1');
    expect(second.get('wait')).toBe('7');
    expect(second.get('services')).toBe('tasks,finance');
  });

  it('waits 25 s by default', async () => {
    const { polls } = await connected();
    expect(query(polls()[1]!).get('wait')).toBe('25');
  });

  // The poll after an answer goes on past its frames (see "a frame the core
  // refuses" below); the core's cursor gives every other service, and after
  // a 204 all of them.
  it('asks the core for the cursor before every poll', async () => {
    vi.useFakeTimers();
    let cursor: Cursor = { tasks: 99, crm: 1 };
    const s = server(() => json(200, { frames: [WELCOME, batch('tasks', 5, 6)] }));
    s.queue.push(() => {
      cursor = { tasks: 120, crm: 3 };
      return new Response(null, { status: 204 });
    });
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext({ getCursor: () => cursor }));
    await vi.advanceTimersByTimeAsync(1000);
    const cursors = s.polls().map((call) => decodeCursor(query(call).get('cursor') ?? ''));
    expect(cursors.slice(1)).toEqual([
      { tasks: 6, crm: 1 },
      { tasks: 120, crm: 3 },
    ]);
  });

  it('without getCursor, follows the cursor of the batch and reset frames it delivered', async () => {
    const s = server(() => json(200, { frames: [WELCOME, batch('tasks', 5, 8)] }));
    s.queue.push(
      () =>
        new Response(
          '{"frames":[{"type":"reset","services":["finance"],"cursor":{"finance":40},"reason":"expired"},' +
            '{"type":"batch","events":[],"after":{},"cursor":{"__proto__":1,"constructor":2,"crm":4}}]}',
          { status: 200 },
        ),
    );
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await flush();
    await flush();
    const cursors = s.polls().map((call) => decodeCursor(query(call).get('cursor') ?? ''));
    expect(cursors[1]).toEqual({ tasks: 8 });
    expect(cursors[2]).toEqual({ tasks: 8, finance: 40, crm: 4 });
  });

  it('adopts the connection id of a later welcome (the server opened a new connection)', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    // Its serverTime a minute on: a server forgets a connection nobody polled for a while.
    s.queue.push(() => json(200, { frames: [{ ...WELCOME, connectionId: 'lp-2', serverTime: 60_001 }] }));
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await flush();
    await flush();
    expect(query(s.polls()[2]!).get('connectionId')).toBe('lp-2');
    await connection.update(['tasks'], null);
    const post = s.calls.find((c) => c.init.method === 'POST')!;
    expect(JSON.parse(String(post.init.body))).toMatchObject({ connectionId: 'lp-2' });
  });

  it('keeps its connection id when a later welcome names one no URL can carry', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => json(200, { frames: [{ ...WELCOME, connectionId: '\uDC00', serverTime: 60_001 }] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await flush();
    await flush();
    // The next poll went out: building its URL with that id threw, and ended the loop.
    expect(s.polls()).toHaveLength(3);
    expect(query(s.polls()[2]!).get('connectionId')).toBe('lp-1');
    expect(ctx.closes).toEqual([]);
  });

  it('turns a 204 (or an empty 200) into a heartbeat frame with the wall clock time', async () => {
    vi.useFakeTimers();
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(
      () => new Response(null, { status: 204 }),
      () => json(200, { frames: [] }),
    );
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch, now: () => 1234 }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(1000 + 2000);
    expect(ctx.frames).toEqual([
      WELCOME,
      { type: 'heartbeat', serverTime: 1234 },
      { type: 'heartbeat', serverTime: 1234 },
    ]);
    expect(s.polls()).toHaveLength(4);
  });

  it.each([
    ['raises a welcome heartbeatMs below the poll wait to the wait', 15_000, {}, 25_000],
    ['raises it to a wait set in the options', 500, { waitSeconds: 2 }, 2000],
    ['keeps a heartbeatMs that is not below the wait', 40_000, {}, 40_000],
    ['keeps it with wait 0 (every poll answers at once)', 500, { waitSeconds: 0 }, 500],
  ])(
    '%s: the watchdog must not end a poll the server may hold that long',
    async (_, heartbeatMs, options, seen) => {
      const welcome = { ...WELCOME, heartbeatMs };
      const later = { ...welcome, connectionId: 'lp-2' };
      const s = server(() => json(200, { frames: [welcome] }));
      s.queue.push(() => json(200, { frames: [later] }));
      const ctx = recordingContext();
      await longPollTransport({ fetch: s.fetch, ...options }, kit).connect(ctx);
      for (let i = 0; i < 4; i++) await flush();
      expect(ctx.frames).toEqual([
        { ...welcome, heartbeatMs: seen },
        { ...later, heartbeatMs: seen },
      ]);
    },
  );

  it('passes a welcome with a heartbeatMs that is not a number on for the core to refuse', async () => {
    const welcome = { ...WELCOME, heartbeatMs: '15000' };
    const s = server(() => json(200, { frames: [welcome] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    expect(ctx.frames).toEqual([welcome]);
  });

  it('delivers the frames of each answer in order', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    const one = batch('tasks', 5, 6);
    const two = batch('tasks', 6, 9);
    s.queue.push(
      () => json(200, { frames: [one] }),
      () => json(200, { frames: [two, 'junk'] }),
    );
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toEqual([WELCOME, one, two, 'junk']);
  });

  it.each([
    [401, {}, { status: 401, code: 'unauthorized' }],
    [403, {}, { status: 403, code: 'forbidden' }],
    [429, { 'Retry-After': '4' }, { status: 429, code: 'overloaded', retryAfterMs: 4000 }],
    [503, {}, { status: 503, code: 'overloaded' }],
    [500, {}, { status: 500, code: 'server_error' }],
    [404, {}, { status: 404, code: 'transport_unavailable' }],
  ])('ends with onClose on a %i and stops polling', async (status, headers, reason) => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => new Response('{}', { status, headers }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]).toMatchObject(reason);
    expect(ctx.closes[0]!.error).toBeInstanceOf(RealtimeError);
    expect(s.polls()).toHaveLength(2);
  });

  it('ends with onClose on a network failure', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => Promise.reject(new TypeError('fetch failed')));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.closes).toHaveLength(1);
    expect(ctx.closes[0]).toMatchObject({ code: 'transport_unavailable' });
  });

  // The core checks every property id; a URL the transport still cannot
  // build (encodeURIComponent throws on a lone surrogate) must end this
  // connection, not the loop with an unhandled rejection.
  it('ends with onClose when a poll URL cannot be built', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { ctx, connection } = await connected();
      await connection.update(['tasks'], ['\uD800']);
      for (let i = 0; i < 4; i++) await flush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(ctx.closes).toHaveLength(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('update POSTs, aborts the poll in flight and polls again at once with the new subscription', async () => {
    const { polls, calls, connection } = await connected();
    const inFlight = polls()[1]!;
    await expect(connection.update(['tasks', 'crm'], ['p2'])).resolves.toEqual({ cursor: { crm: 10 } });
    const post = calls.find((c) => c.init.method === 'POST')!;
    expect(post.url).toBe('http://127.0.0.1:9/v2/realtime/update-services');
    expect(post.headers.get('authorization')).toBe('Bearer tok');
    expect(JSON.parse(String(post.init.body))).toEqual({
      connectionId: 'lp-1',
      services: ['tasks', 'crm'],
      propertyIds: ['p2'],
    });
    expect(inFlight.signal?.aborted).toBe(true);
    await flush();
    expect(polls()).toHaveLength(3);
    const next = query(polls()[2]!);
    expect(next.get('services')).toBe('tasks,crm');
    expect(next.get('propertyIds')).toBe('p2');
    expect(next.get('connectionId')).toBe('lp-1');
    expect(decodeCursor(next.get('cursor') ?? '')).toEqual({ tasks: 5, crm: 10 });
  });

  it('update rejects with the mapped error and keeps polling the old subscription', async () => {
    const s = server(
      () => json(200, { frames: [WELCOME] }),
      () => json(400, { code: 'bad_request' }),
    );
    const ctx = recordingContext();
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await flush();
    await expect(connection.update(['x'], null)).rejects.toMatchObject({ code: 'bad_request', status: 400 });
    expect(s.polls()[1]!.signal?.aborted).toBe(false);
    expect(ctx.closes).toEqual([]);
  });

  it('uses the token from setToken for the next request', async () => {
    const { polls, queue, connection } = await connected();
    connection.setToken?.('fresh');
    queue.push(() => new Response(null, { status: 204 }));
    await connection.update(['tasks'], null);
    await flush();
    expect(polls().at(-1)!.headers.get('authorization')).toBe('Bearer fresh');
  });

  it('close() aborts the poll in flight, stops the loop and never calls onClose', async () => {
    const { polls, connection, ctx } = await connected();
    connection.close();
    await flush();
    expect(polls()[1]!.signal?.aborted).toBe(true);
    expect(polls()).toHaveLength(2);
    expect(ctx.closes).toEqual([]);
    await expect(connection.update(['a'], null)).rejects.toMatchObject({ code: 'connection_lost' });
  });

  it('treats an abort of the signal as close()', async () => {
    const { polls, ctx } = await connected();
    ctx.abort.abort();
    await flush();
    expect(polls()[1]!.signal?.aborted).toBe(true);
    expect(polls()).toHaveLength(2);
    expect(ctx.closes).toEqual([]);
  });
});

describe('longPollTransport: maxFrameChars', () => {
  // The core drops a frame whose text is over `maxFrameChars`, and WebSocket
  // and SSE hand it each frame's text. A poll answer was parsed whole, so an
  // oversized frame reached the leader's handlers, and the other tabs only
  // while its relay message fitted the channel's bound: the tabs disagreed.
  const MAX = 1024;

  /** A batch of `tasks` (after → after + 1) whose JSON is exactly `chars` long. */
  function sized(after: number, chars: number) {
    const of = (blob: string) => {
      const frame = batch('tasks', after, after + 1);
      (frame.events[0] as Record<string, unknown>).data = { blob };
      return frame;
    };
    return of('x'.repeat(chars - JSON.stringify(of('')).length));
  }

  const refused = (frame: string | object) => !parseServerFrame(frame, MAX).ok;

  it('hands the core a frame over the bound as one it refuses, and keeps one of exactly the bound', async () => {
    const exact = sized(5, MAX);
    const over = sized(6, MAX + 1);
    const after = batch('tasks', 7, 8);
    expect(JSON.stringify(exact)).toHaveLength(MAX);
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => json(200, { frames: [exact, over, after] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch, maxFrameChars: MAX }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toHaveLength(4);
    expect(ctx.frames.slice(0, 2)).toEqual([WELCOME, exact]);
    expect(ctx.frames[3]).toEqual(after);
    expect(refused(ctx.frames[2]!)).toBe(true);
    expect(ctx.frames.filter(refused)).toHaveLength(1);
  });

  it('drops an oversized frame of the first answer too, and a welcome over the bound fails the connect', async () => {
    const over = sized(5, MAX + 1);
    const s = server(() => json(200, { frames: [WELCOME, over] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch, maxFrameChars: MAX }, kit).connect(ctx);
    expect(ctx.frames[0]).toEqual(WELCOME);
    expect(refused(ctx.frames[1]!)).toBe(true);

    const big = { ...WELCOME, padding: 'x'.repeat(MAX) };
    const t = server(() => json(200, { frames: [big] }));
    await expect(
      longPollTransport({ fetch: t.fetch, maxFrameChars: MAX }, kit).connect(recordingContext()),
    ).rejects.toMatchObject({ code: 'transport_unavailable' });
  });

  it('takes the 16 Mi default of the core', async () => {
    const over = sized(5, 2 ** 24 + 1);
    const exact = sized(6, 2 ** 24);
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => json(200, { frames: [over, exact] }));
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toHaveLength(3);
    expect(parseServerFrame(ctx.frames[1]!).ok).toBe(false);
    expect(ctx.frames[2]).toEqual(exact);
  });

  // As a stream goes on past a frame the core dropped. From the core's
  // cursor the server answers with the same frame again at once: the loop
  // fetched it over and over with no pause.
  it('asks the next poll from past the dropped frame, the one after from the core cursor again', async () => {
    vi.useFakeTimers();
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(
      () => json(200, { frames: [sized(5, MAX + 1)] }),
      () => new Response(null, { status: 204 }),
    );
    const ctx = recordingContext({ getCursor: () => ({ tasks: 5, crm: 2 }) });
    await longPollTransport({ fetch: s.fetch, maxFrameChars: MAX }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(1000);
    const cursors = s.polls().map((call) => decodeCursor(query(call).get('cursor') ?? ''));
    expect(cursors.slice(1)).toEqual([
      { tasks: 5, crm: 2 },
      { tasks: 6, crm: 2 },
      { tasks: 5, crm: 2 },
    ]);
  });
});

describe('longPollTransport: a frame the core refuses', () => {
  // A batch whose event has no seq: the core refuses the frame (counts it as
  // invalid) and its cursor stays where it was.
  const malformed = () => {
    const frame = batch('tasks', 5, 6);
    delete (frame.events[0] as { seq?: number }).seq;
    return frame;
  };

  /**
   * A buggy backend: every poll from `tasks` 5 (the core's cursor, which the
   * refused frame never moves) is answered at once with the malformed frame;
   * one from past it waits. Capped, so that a loop ends.
   */
  function buggy() {
    return server(
      () => json(200, { frames: [WELCOME] }),
      undefined,
      (call) => {
        const from = decodeCursor(query(call).get('cursor') ?? '')?.tasks ?? 0;
        return from <= 5 ? json(200, { frames: [malformed()] }) : undefined;
      },
    );
  }

  // WebSocket and SSE go on past a frame the core refused; the core's gap
  // check asks for it again at the pace of its replays. Long-poll asked from
  // the core's cursor, and the server answered with the same frame at once:
  // hundreds of requests a second, no valid frame for the watchdog, until the
  // connection was declared dead two waits later (50 s), and again after.
  it('asks the next poll from past it instead of fetching it again at once', async () => {
    const s = buggy();
    const ctx = recordingContext({ getCursor: () => ({ tasks: 5 }) });
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 20; i++) await flush();
    const cursors = s.polls().map((call) => decodeCursor(query(call).get('cursor') ?? ''));
    expect(cursors).toEqual([{ tasks: 5 }, { tasks: 5 }, { tasks: 6 }]);
    expect(ctx.frames).toEqual([WELCOME, malformed()]);
  });

  // A hole the core asks to be replayed at once (`replay()` while the answer
  // is delivered) is asked for by the next poll, from the core's cursor.
  it('asks from the core cursor when the core asked for a replay meanwhile', async () => {
    const s = buggy();
    let replays = 0;
    const ctx = recordingContext({
      getCursor: () => ({ tasks: 5 }),
      onFrame: (frame) => {
        ctx.frames.push(frame);
        if ((frame as { type?: string }).type === 'batch' && replays++ === 0) connection.replay?.();
      },
    });
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    for (let i = 0; i < 20; i++) await flush();
    const cursors = s.polls().map((call) => decodeCursor(query(call).get('cursor') ?? ''));
    expect(cursors).toEqual([{ tasks: 5 }, { tasks: 5 }, { tasks: 5 }, { tasks: 6 }]);
    expect(replays).toBe(2);
  });
});

describe('longPollTransport: replay', () => {
  // The core lowered its cursor (a tab asked for a replay): the poll waiting
  // at the server would only come back after its `wait`, so `replay()` ends
  // it and the loop asks from the lowered cursor at once.
  it('aborts the poll in flight and polls again at once with the cursor of now', async () => {
    let cursor: Cursor = { tasks: 9 };
    const s = server(() => json(200, { frames: [WELCOME] }));
    const ctx = recordingContext({ getCursor: () => cursor });
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await flush();
    const waiting = s.polls()[1]!;
    cursor = { tasks: 2 };
    connection.replay?.();
    expect(waiting.signal?.aborted).toBe(true);
    await flush();
    expect(s.polls()).toHaveLength(3);
    expect(decodeCursor(query(s.polls()[2]!).get('cursor') ?? '')).toEqual({ tasks: 2 });
    expect(query(s.polls()[2]!).get('connectionId')).toBe('lp-1');
    expect(ctx.frames).toEqual([WELCOME]);
    expect(ctx.closes).toEqual([]);
  });

  it('drops an answer cut off while its body was read; the next poll asks for it again', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    const body = streamingResponse({ status: 200 });
    s.queue.push((call) => {
      call.signal?.addEventListener('abort', () => body.error(new DOMException('aborted', 'AbortError')));
      return body.response;
    });
    const ctx = recordingContext({ getCursor: () => ({ tasks: 5 }) });
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await flush();
    body.write(JSON.stringify({ frames: [batch('tasks', 5, 7)] }).slice(0, 20));
    connection.replay?.();
    for (let i = 0; i < 4; i++) await flush();
    // Neither half an answer nor an error: the cursor did not move, and the
    // next poll asks from it.
    expect(ctx.frames).toEqual([WELCOME]);
    expect(ctx.closes).toEqual([]);
    expect(s.polls()).toHaveLength(3);
    expect(decodeCursor(query(s.polls()[2]!).get('cursor') ?? '')).toEqual({ tasks: 5 });
  });

  it('delivers, once, an answer that came before the replay was asked', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    const one = batch('tasks', 5, 6);
    s.queue.push(() => json(200, { frames: [one] }));
    const ctx = recordingContext();
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    // The answer is read but not yet handed on when the replay is asked.
    await Promise.resolve();
    connection.replay?.();
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toEqual([WELCOME, one]);
    expect(s.polls()).toHaveLength(3);
  });

  // An app's `fetch` that does not pass the signal on (or an answer already
  // read when the replay is asked) cannot be cut short: its answer still
  // comes, and moving the next poll past it skipped the replay the core
  // asked for (its batch was then a gap again, replayed only at the pace of
  // the core's replays). The next poll asks from the core's cursor.
  it('asks from the core cursor after a replay asked while the poll could not be aborted', async () => {
    let cursor: Cursor = { tasks: 9 };
    let answer!: (response: Response) => void;
    const s = server(() => json(200, { frames: [WELCOME] }));
    s.queue.push(() => new Promise<Response>((resolve) => (answer = resolve)));
    const ctx = recordingContext({ getCursor: () => cursor });
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await flush();
    cursor = { tasks: 2 };
    connection.replay?.();
    answer(json(200, { frames: [batch('tasks', 9, 10)] }));
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toEqual([WELCOME, batch('tasks', 9, 10)]);
    expect(s.polls()).toHaveLength(3);
    expect(decodeCursor(query(s.polls()[2]!).get('cursor') ?? '')).toEqual({ tasks: 2 });
  });

  it('does nothing once closed', async () => {
    const s = server(() => json(200, { frames: [WELCOME] }));
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await flush();
    connection.close();
    connection.replay?.();
    await flush();
    expect(s.polls()).toHaveLength(2);
  });
});
