import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { decodeCursor } from '../../../src/protocol/cursor';
import { kit } from '../../../src/transports/kit';
import { longPollTransport } from '../../../src/transports/long-poll';
import {
  type FetchCall,
  flush,
  jsonResponse,
  POLL_WELCOME,
  pendingUntilAborted,
  recordingContext,
  scriptedFetch,
} from './fakes';

// The loop sent the next poll the moment an answer came. Against a proxy or
// CDN that answers `/poll` at once (a cached 204, a buffering proxy cutting
// held requests short, a server ignoring `wait`), or with frames that carry
// no cursor, every answer was asked for again at once: hundreds of requests a
// second from every browser, for good (a 204 is a heartbeat, which nothing
// counts against the connection). Such an answer is now followed by a pause,
// 1 s doubling up to 8 s (nor more than the poll's `wait`); an answer that moved a cursor or took
// its time ends the pacing.

const WELCOME = POLL_WELCOME;
const json = jsonResponse;
const noContent = () => new Response(null, { status: 204 });
const batch = (after: number) => ({
  type: 'batch',
  events: [{ service: 'tasks', entityType: 't', type: 't.updated', seq: after + 1, ts: 1, orgId: 'o' }],
  after: { tasks: after },
  cursor: { tasks: after + 1 },
});

// Past this many polls the backend holds every poll: a loop polling at once ends there.
const CAP = 200;

/**
 * A backend that welcomes the first poll and answers each later one with
 * `answer` (a poll it answers with `undefined` waits until aborted);
 * `polls` are the fake times the loop's polls were sent at, from the first.
 */
function backend(
  answer: (call: FetchCall) => Response | Promise<Response> | undefined,
  welcome: object = WELCOME,
) {
  const start = Date.now();
  const times: number[] = [];
  const { fetch, calls } = scriptedFetch((call, index) => {
    if (call.init.method === 'POST') return json({ cursor: {} });
    if (index === 0) return json({ frames: [welcome] });
    times.push(Date.now() - start);
    return (times.length <= CAP ? answer(call) : undefined) ?? pendingUntilAborted(call.signal);
  });
  const polls = () => calls.filter((call) => call.init.method !== 'POST');
  return { fetch, calls, polls, times };
}

const gaps = (times: number[]) => times.slice(1).map((time, i) => time - times[i]!);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('long-poll pacing', () => {
  it('answers at once with a 204: polls 1 s apart, then 2, 4 and 8 s, and no further apart (nor than the wait)', async () => {
    const s = backend(noContent);
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(gaps(s.times)).toEqual([1000, 2000, 4000, ...Array(11).fill(8000)]);
    // Each answer is still a heartbeat: never a silence of two heartbeats (2 × 25 s).
    expect(ctx.frames.filter((frame) => (frame as { type?: string }).type === 'heartbeat')).toHaveLength(
      s.times.length,
    );
    expect(ctx.closes).toEqual([]);
  });

  it('the same for an empty 200 and for frames without a cursor ({ frames: [42] })', async () => {
    for (const body of [{ frames: [] }, { frames: [42] }, { frames: [{ type: 'batch' }] }]) {
      const s = backend(() => json(body));
      const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
      await vi.advanceTimersByTimeAsync(60_000);
      expect(s.times).toEqual([0, 1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000, 47_000, 55_000]);
      connection.close();
    }
  });

  it('an answer that moves a cursor is followed at once, and starts the pacing over', async () => {
    let next = 0;
    const answers: Array<() => Response> = [
      noContent,
      noContent,
      noContent,
      () => json({ frames: [batch(5)] }),
      () => json({ frames: [batch(6)] }),
    ];
    const s = backend(() => (answers[next++] ?? noContent)());
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(10_000);
    expect(s.times).toEqual([0, 1000, 3000, 7000, 7000, 7000, 8000, 10_000]);
  });

  it('a later welcome (the server opened a new connection) is followed at once', async () => {
    let next = 0;
    const answers: Array<() => Response> = [
      noContent,
      // A server forgets a connection nobody polled for a while: its clock has moved on since the welcome.
      () => json({ frames: [{ ...WELCOME, connectionId: 'lp-2', serverTime: WELCOME.serverTime + 60_000 }] }),
    ];
    const s = backend(() => (answers[next++] ?? noContent)());
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(1500);
    expect(s.times).toEqual([0, 1000, 1000]);
    expect(new URL(s.polls().at(-1)!.url).searchParams.get('connectionId')).toBe('lp-2');
  });

  // PROTOCOL.md: a heartbeat every `heartbeatMs` when idle, which may be
  // well under a second; over long-poll it ends the held poll.
  it('a heartbeat frame, however soon, is followed at once', async () => {
    const s = backend(
      () =>
        new Promise<Response>((resolve) =>
          setTimeout(() => resolve(json({ frames: [{ type: 'heartbeat', serverTime: Date.now() }] })), 200),
        ),
      { ...WELCOME, serverTime: Date.now(), heartbeatMs: 200 },
    );
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.times).toEqual([0, 200, 400, 600, 800, 1000]);
  });

  // A cache or proxy that stored a poll's answer replays it at once: the
  // URL is the same (nothing new, so the cursor does not move), and so is
  // the heartbeat's serverTime. A heartbeat ended the pacing, so every
  // browser polled in a hot loop, for good.
  // The pacing subtracts serverTimes and halves heartbeatMs as they came off
  // the network, before the core checks the frame. An object whose valueOf
  // and toString are not functions (JSON can say so) throws in arithmetic:
  // the poll loop died with an unhandled rejection, and the connection
  // polled no more until the core's watchdog gave up on it.
  it('a heartbeat or welcome whose serverTime or heartbeatMs is no number is paced as a 204, and polling goes on', async () => {
    const unprintable = { valueOf: 0, toString: 0 };
    for (const [answer, welcome] of [
      [{ type: 'heartbeat', serverTime: unprintable }, WELCOME],
      [
        { type: 'heartbeat', serverTime: WELCOME.serverTime + 60_000 },
        { ...WELCOME, heartbeatMs: unprintable },
      ],
    ] as const) {
      const s = backend(() => json({ frames: [answer] }), welcome);
      const ctx = recordingContext();
      const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
      await vi.advanceTimersByTimeAsync(10_000);
      connection.close();
      expect(s.times.slice(0, 4)).toEqual([0, 1000, 3000, 7000]);
      expect(ctx.closes).toEqual([]);
    }
  });

  // A batch has a cursor, but one that only brings the frames of the cursor
  // the poll asked from moves nothing: the core drops it as an overlap, and
  // the next poll asks the same. Any cursor counted as progress, so every
  // browser polled in a hot loop, for good (hundreds of polls a second).
  it('an answer at once with the frames of the cursor asked from again (a server answering from its last event) is paced as a 204', async () => {
    // Off by one: answers from the asked seq itself, not past it.
    const s = backend((call) => {
      const from = decodeCursor(new URL(call.url).searchParams.get('cursor') ?? '')?.tasks ?? 0;
      return json({ frames: [batch(from - 1)] });
    });
    const ctx = recordingContext({ getCursor: () => ({ tasks: 6 }) });
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(30_000);
    // The core is at 6: every answer brings event 6 again, up to 6.
    expect(s.times).toEqual([0, 1000, 3000, 7000, 15_000, 23_000]);
    expect(ctx.closes).toEqual([]);
  });

  it('the same for a cache that answers every poll at once with the batch it stored (the query ignored)', async () => {
    const stored = json({ frames: [batch(5)] });
    const s = backend(() => stored.clone());
    const ctx = recordingContext({ getCursor: () => ({ tasks: 9 }) });
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(30_000);
    // From the core's 9 the stored answer goes back to 6: the next poll asks
    // from there (past the answer, see `pastOf`), and the same answer again moves nothing.
    expect(s.times).toEqual([0, 0, 1000, 3000, 7000, 15_000, 23_000]);
    expect(decodeCursor(new URL(s.polls().at(-1)!.url).searchParams.get('cursor') ?? '')).toEqual({
      tasks: 6,
    });
  });

  it('a heartbeat replayed at once (the same serverTime, poll after poll) is paced as a 204', async () => {
    const replayed = json({ frames: [{ type: 'heartbeat', serverTime: WELCOME.serverTime }] });
    const s = backend(() => replayed.clone());
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.times).toEqual([0, 1000, 3000, 7000, 15_000, 23_000]);
    // Each still reaches the core: its watchdog sees a frame at least every 8 s.
    expect(ctx.frames.filter((frame) => (frame as { type?: string }).type === 'heartbeat')).toHaveLength(6);
    expect(ctx.closes).toEqual([]);
  });

  it('a stored heartbeat of the server is followed once, then its replays are paced', async () => {
    const replayed = json({ frames: [{ type: 'heartbeat', serverTime: WELCOME.serverTime + 30_000 }] });
    const s = backend(() => replayed.clone());
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.times).toEqual([0, 0, 1000, 3000, 7000, 15_000, 23_000]);
  });

  it('a welcome replayed at once (the same connection and serverTime) is paced as a 204', async () => {
    const s = backend(() => json({ frames: [WELCOME] }));
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.times).toEqual([0, 1000, 3000, 7000, 15_000, 23_000]);
  });

  it('a server answering at once with heartbeats of its own clock (wait ignored) is paced too, at most 2 polls a second', async () => {
    const s = backend(() => json({ frames: [{ type: 'heartbeat', serverTime: Date.now() }] }), {
      ...WELCOME,
      serverTime: Date.now(),
      heartbeatMs: 500,
    });
    await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(10_000);
    // A second's pause puts its clock a heartbeat on: the next answer counts, the one after it does not.
    expect(s.times).toEqual([
      0, 1000, 1000, 2000, 2000, 3000, 3000, 4000, 4000, 5000, 5000, 6000, 6000, 7000, 7000, 8000, 8000, 9000,
      9000, 10_000, 10_000,
    ]);
  });

  // A server that sends a heartbeat whenever it sent nothing for heartbeatMs
  // (as the dev server does over WebSocket and SSE), whether a poll waits or
  // not: after an event the next one may end a poll at once, and one sent
  // while no poll waited ends the next poll at once. Timing a heartbeat by
  // how long the poll was held paced such a server, and each pause queued
  // the next heartbeat: paced until the next event.
  it('a server whose heartbeats (every 500 ms) keep their own time is not slowed: each poll is sent as the last is answered', async () => {
    const start = Date.now();
    const queued: object[] = [];
    let waiting: ((frames: object[]) => void) | undefined;
    const answered: number[] = [];
    const say = (frame: object) => {
      queued.push(frame);
      if (waiting) {
        const answer = waiting;
        waiting = undefined;
        answer(queued.splice(0));
      }
    };
    const beat = setInterval(() => say({ type: 'heartbeat', serverTime: Date.now() }), 500);
    let seq = 5;
    for (const at of [130, 1370, 1880, 4020, 4475, 7240]) {
      setTimeout(() => say(batch(seq++)), at);
    }
    const s = backend(
      () => {
        const frames =
          queued.length > 0
            ? Promise.resolve(queued.splice(0))
            : new Promise<object[]>((resolve) => {
                waiting = resolve;
              });
        return frames.then((answer) => {
          answered.push(Date.now() - start);
          return json({ frames: answer });
        });
      },
      { ...WELCOME, serverTime: Date.now(), heartbeatMs: 500 },
    );
    const ctx = recordingContext();
    await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(10_000);
    clearInterval(beat);
    expect(s.times.slice(1)).toEqual(answered.slice(0, s.times.length - 1));
    // 20 heartbeats and 6 events, with no pause: a poll waits for each.
    expect(answered.length).toBe(26);
    expect(ctx.frames.filter((frame) => (frame as { type?: string }).type === 'batch')).toHaveLength(6);
  });

  it('a server that holds each poll is not slowed, nor one whose held polls end sooner than the wait', async () => {
    for (const heldMs of [25_000, 3000]) {
      const s = backend(
        () => new Promise<Response>((resolve) => setTimeout(() => resolve(noContent()), heldMs)),
      );
      const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
      await vi.advanceTimersByTimeAsync(4 * heldMs);
      expect(gaps(s.times)).toEqual([heldMs, heldMs, heldMs, heldMs]);
      connection.close();
    }
  });

  it('with waitSeconds 0 (answers at once, as asked) it polls at once as before, after a 204 or the same heartbeat', async () => {
    const heartbeat = { type: 'heartbeat', serverTime: WELCOME.serverTime };
    for (const answer of [noContent, () => json({ frames: [heartbeat] })]) {
      const s = backend(answer);
      const connection = await longPollTransport({ fetch: s.fetch, waitSeconds: 0 }, kit).connect(
        recordingContext(),
      );
      for (let i = 0; i < 40; i++) await flush();
      connection.close();
      expect(s.times.length).toBeGreaterThan(20);
      expect(s.times.every((time) => time === 0)).toBe(true);
    }
  });

  it('replay() during a pause polls at once, from the core cursor', async () => {
    let cursor = { tasks: 9 };
    const s = backend(noContent);
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(
      recordingContext({ getCursor: () => cursor }),
    );
    await vi.advanceTimersByTimeAsync(1500); // polls at 0 and 1 s; the next waits until 3 s
    expect(s.times).toEqual([0, 1000]);
    cursor = { tasks: 2 };
    connection.replay?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.times).toEqual([0, 1000, 1500]);
    expect(decodeCursor(new URL(s.polls().at(-1)!.url).searchParams.get('cursor') ?? '')).toEqual({
      tasks: 2,
    });
  });

  it('update() during a pause polls at once, with the new subscription', async () => {
    const s = backend(noContent);
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(recordingContext());
    await vi.advanceTimersByTimeAsync(1500);
    await connection.update(['crm'], null);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.times).toEqual([0, 1000, 1500]);
    expect(new URL(s.polls().at(-1)!.url).searchParams.get('services')).toBe('crm');
  });

  it('close() during a pause ends the loop and leaves no timer behind', async () => {
    const s = backend(noContent);
    const ctx = recordingContext();
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(1500);
    expect(vi.getTimerCount()).toBe(1);
    connection.close();
    await flush();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.times).toEqual([0, 1000]);
    expect(ctx.closes).toEqual([]);
  });

  // The core closes the connection from its frame handler (the refused
  // frames tripped the rollback guard): no pause starts after that.
  it('close() while the answer is delivered leaves no timer behind', async () => {
    const s = backend(() => json({ frames: [42] }));
    const ctx = recordingContext({
      onFrame: (frame) => {
        ctx.frames.push(frame);
        if ((frame as unknown) === 42) connection.close();
      },
    });
    const connection = await longPollTransport({ fetch: s.fetch }, kit).connect(ctx);
    await vi.advanceTimersByTimeAsync(0);
    expect(ctx.frames).toEqual([WELCOME, 42]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('takes its time and timers from the clock option', async () => {
    vi.useRealTimers();
    let now = 0;
    const timers: Array<{ fn: () => void; at: number }> = [];
    const clock: Clock = {
      now: () => now,
      setTimeout: (fn, ms) => timers.push({ fn, at: now + ms }),
      clearTimeout: () => {},
    };
    const s = backend(noContent);
    await longPollTransport({ fetch: s.fetch, clock }, kit).connect(recordingContext());
    for (let i = 0; i < 10; i++) await flush();
    expect(s.polls()).toHaveLength(2);
    expect(timers.map((timer) => timer.at)).toEqual([1000]);
    now = 1000;
    timers[0]!.fn();
    for (let i = 0; i < 10; i++) await flush();
    expect(s.polls()).toHaveLength(3);
    expect(timers.map((timer) => timer.at)).toEqual([1000, 3000]);
  });
});
