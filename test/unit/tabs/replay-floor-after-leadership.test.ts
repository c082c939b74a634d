import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { Cursor } from '../../../src/protocol/schemas';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import type { Transport } from '../../../src/transports/types';

// A leader keeps the lowest cursor a follower asked it to replay from (its
// replay floor) until the replay comes. One that stopped leading before
// that kept the floor: when it led again, maybe hours later, its first
// connection reached back to it, and the server replayed what every tab
// already had (or, that far back, reset every tab).

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

function record(rt: RealtimeClient, seqs: number[] = []): () => void {
  return rt.subscribe('tasks', (events) => {
    for (const e of events) seqs.push(e.seq);
  });
}

describe('a replay floor a leader had when it stopped leading', () => {
  it('is not used once that tab leads again', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    // Every connect's cursor; and the first tab's connects hold while `held`.
    const cursors: Cursor[] = [];
    let held = false;
    const recording = (hold: boolean): Transport => ({
      name: 'memory',
      connect(ctx) {
        cursors.push({ ...ctx.cursor });
        return hold && held ? new Promise(() => {}) : backend.transport.connect(ctx);
      },
    });
    let channelName = '';
    class NamedChannel extends browser.channels.BroadcastChannel {
      constructor(name: string) {
        super(name);
        channelName = name;
      }
    }

    const a = browser.tab({ transports: [recording(true)], platform: { BroadcastChannel: NamedChannel } });
    const offA = record(a);
    await vi.advanceTimersByTimeAsync(50);
    const b = browser.tab({ transports: [recording(false)] });
    const seqsB: number[] = [];
    record(b, seqsB);
    await vi.advanceTimersByTimeAsync(50);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(50);

    // A's connection drops and its next attempt hangs; meanwhile a tab asks
    // for a replay from seq 1, which A cannot make yet.
    held = true;
    backend.drop();
    await vi.advanceTimersByTimeAsync(2_000);
    const other = new browser.channels.BroadcastChannel(channelName);
    other.postMessage(JSON.stringify({ v: 1, from: 'other-tab', type: 'replay', cursor: { tasks: 1 } }));
    await vi.advanceTimersByTimeAsync(50);

    // A's user leaves realtime: B leads and connects from seq 3.
    offA();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(50);
    expect(seqsB).toEqual([1, 2, 3, 4]);

    // A comes back, follows B, then leads when B closes.
    held = false;
    const seqsA: number[] = [];
    record(a, seqsA);
    await vi.advanceTimersByTimeAsync(1_000);
    cursors.length = 0;
    await b.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    // From what the tabs have, not from the floor of its old leadership.
    expect(cursors).toEqual([{ tasks: 4 }]);
    expect(a.getState().byServiceSuppressed).toEqual({});
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(50);
    expect(seqsA).toEqual([5]);
  });
});
