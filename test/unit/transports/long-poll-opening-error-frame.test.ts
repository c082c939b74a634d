import { afterEach, describe, expect, it } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { longPollTransport as publicLongPoll } from '../../../src/transports/builtins';
import { kit } from '../../../src/transports/kit';
import { longPollTransport } from '../../../src/transports/long-poll';
import { flush, jsonResponse, recordingContext, scriptedFetch } from './fakes';

// PROTOCOL.md: a long-poll answer is `200 { frames: [...] }`, and an `error`
// frame is one of the frames a server sends (`unauthorized`: refresh the
// token once; `forbidden`: stop for good; `overloaded`: back off at least
// `retryAfterMs`). In a later poll's answer it reaches the core and means
// just that. In the answer to the first poll, which opens the connection, it
// was read as "the first poll did not start with a welcome frame",
// `transport_unavailable`: the chain tried the next transport, a `forbidden`
// user was retried for ever, an `unauthorized` token never refreshed. Now
// the refusal reaches the core as it does on a live connection.

const ok = jsonResponse;

/** A backend whose every poll is answered with `{ frames: [error] }`. */
function refusing(error: Record<string, unknown>) {
  return scriptedFetch(() => ok({ frames: [{ type: 'error', message: 'no', ...error }] }));
}

let rt: RealtimeClient | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

function client(fetch: typeof globalThis.fetch, getToken: () => string = () => 'tok') {
  rt = createRealtime({
    url: 'https://api.example.test/v2/realtime',
    transports: [publicLongPoll({ fetch })],
    auth: { getToken },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
    backoff: { baseMs: 10, capMs: 20 },
  });
  rt.subscribe('tasks', () => {});
  return rt;
}

async function settle(until: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !until(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('long-poll: an error frame answering the first poll', () => {
  it('forbidden stops realtime for good', async () => {
    const { fetch, calls } = refusing({ code: 'forbidden' });
    const forbidden: unknown[] = [];
    const c = client(fetch);
    c.on('forbidden', (error) => forbidden.push(error));
    await settle(() => forbidden.length > 0);
    expect(forbidden).toHaveLength(1);
    expect(forbidden[0]).toMatchObject({ code: 'forbidden' });
    expect(c.getState()).toMatchObject({ status: 'disabled', disabledReason: 'forbidden' });
    const polls = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls).toHaveLength(polls);
  });

  it('unauthorized asks for a new token and retries at once', async () => {
    const { fetch } = refusing({ code: 'unauthorized' });
    let tokens = 0;
    const c = client(fetch, () => `tok${++tokens}`);
    await settle(() => tokens >= 2);
    expect(tokens).toBeGreaterThanOrEqual(2);
    expect(c.getState().lastError).toMatch(/^unauthorized:/);
  });

  it('overloaded waits the frame retryAfterMs', async () => {
    const { fetch, calls } = refusing({ code: 'overloaded', retryAfterMs: 60_000 });
    const waits: (number | undefined)[] = [];
    const c = client(fetch);
    c.on('disconnected', ({ error, willRetryInMs }) => {
      expect(error.code).toBe('overloaded');
      waits.push(willRetryInMs);
    });
    await settle(() => waits.length > 0);
    expect(waits).toEqual([60_000]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls).toHaveLength(1);
  });

  it('the transport polls no more after handing the refusal on', async () => {
    const { fetch, calls } = refusing({ code: 'forbidden' });
    const ctx = recordingContext();
    await longPollTransport({ fetch }, kit).connect(ctx);
    for (let i = 0; i < 4; i++) await flush();
    expect(ctx.frames).toMatchObject([{ type: 'error', code: 'forbidden' }]);
    expect(calls).toHaveLength(1);
  });

  it('still rejects a first answer with neither a welcome nor an error as transport_unavailable', async () => {
    const { fetch } = scriptedFetch(() => ok({ frames: [{ type: 'heartbeat', serverTime: 1 }] }));
    await expect(longPollTransport({ fetch }, kit).connect(recordingContext())).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
  });
});
