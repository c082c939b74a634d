import { afterEach, expect, it } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { decodeCursor } from '../../../src/protocol/cursor';
import { longPollTransport } from '../../../src/transports/builtins';
import { jsonResponse, POLL_WELCOME, pendingUntilAborted, scriptedFetch } from './fakes';

// A frame the core refuses (malformed, from a buggy backend) leaves the
// core's cursor where it was. WebSocket and SSE go on past it, and the core's
// gap check asks for it again at the pace of its replays. Long-poll asked the
// next poll from the core's cursor, and the server answered at once with the
// same frame: a request loop, hundreds a second per browser, with no valid
// frame for the watchdog, until the connection was declared dead two poll
// waits later (50 s), and again after the reconnect. Sooner than that, the
// refused frames (one per request) tripped the rollback guard (error rate
// 95 % after 19 of them): one malformed frame turned realtime off.

const ok = jsonResponse;

const WELCOME = POLL_WELCOME;

/** A batch of `tasks` 5 → 6 whose event has no seq. */
const MALFORMED = {
  type: 'batch',
  events: [{ service: 'tasks', entityType: 't', type: 't.updated', ts: 1, orgId: 'o' }],
  after: { tasks: 5 },
  cursor: { tasks: 6 },
};

// Past this many polls the backend holds every poll: a loop ends there.
const CAP = 200;

let rt: RealtimeClient | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

it('polls on past a frame the core refuses instead of fetching it again at once', async () => {
  const { fetch, calls } = scriptedFetch((call, index) => {
    const params = new URL(call.url).searchParams;
    if (!params.has('connectionId')) return ok({ frames: [WELCOME] });
    const from = decodeCursor(params.get('cursor') ?? '')?.tasks ?? 0;
    return index < CAP && from <= 5 ? ok({ frames: [MALFORMED] }) : pendingUntilAborted(call.signal);
  });
  rt = createRealtime({
    url: 'https://api.example.test/v2/realtime',
    transports: [longPollTransport({ fetch })],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  const seqs: number[] = [];
  rt.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
  const c = rt;
  await settle(() => c.getState().counters.invalidFrames > 0);
  // Many loop turns' worth of time.
  await new Promise((resolve) => setTimeout(resolve, 200));

  expect(calls.length).toBeLessThanOrEqual(4);
  expect(c.getState().counters.invalidFrames).toBe(1);
  expect(c.getState().status).toBe('connected');
  expect(c.getState().rollback.state).toBe('ok');
  expect(decodeCursor(new URL(calls.at(-1)!.url).searchParams.get('cursor') ?? '')).toEqual({ tasks: 6 });
  expect(seqs).toEqual([]);
});
