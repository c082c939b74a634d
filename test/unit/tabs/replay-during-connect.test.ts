import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import type { Transport } from '../../../src/transports/types';

// A follower's replay request that reaches the leader while its connection
// attempt is under way (the cursor already taken, no welcome yet) can be
// answered neither by that attempt nor by a reconnect (nothing to reconnect
// yet). It used to wait for the follower to ask again, which it does only
// when a later event shows the hole once more: on a quiet stream, never.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

function record(rt: RealtimeClient): number[] {
  const seqs: number[] = [];
  rt.subscribe('tasks', (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

describe('a replay asked for while the leader connects', () => {
  it('is made once the connection is welcomed, without waiting for another event', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;

    // The leader's transport: connects at once, or holds while `gate` is set.
    let gate: Promise<void> | undefined;
    let open = (): void => {};
    const gated: Transport = {
      name: 'memory',
      async connect(ctx) {
        if (gate) await gate;
        return backend.transport.connect(ctx);
      },
    };
    // The follower's channel: can lose one relayed batch, and takes a frame from outside.
    let loseNextBatch = false;
    let followerChannel: EventTarget | undefined;
    class LossyChannel extends browser.channels.BroadcastChannel {
      constructor(name: string) {
        super(name);
        followerChannel = this;
      }
      override dispatchEvent(event: Event): boolean {
        const data = (event as MessageEvent).data;
        if (
          loseNextBatch &&
          typeof data === 'string' &&
          data.includes('"type":"frame"') &&
          data.includes('batch')
        ) {
          loseNextBatch = false;
          return true;
        }
        return super.dispatchEvent(event);
      }
    }

    const leader = browser.tab({ transports: [gated] });
    const leaderSeqs = record(leader);
    await vi.advanceTimersByTimeAsync(50);
    const follower = browser.tab({ platform: { BroadcastChannel: LossyChannel } });
    const followerSeqs = record(follower);
    await vi.advanceTimersByTimeAsync(50);
    expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(follower.getState()).toMatchObject({ isLeader: false, status: 'connected' });
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(50);

    // The follower loses the relay of seq 2.
    loseNextBatch = true;
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(50);
    expect(leaderSeqs).toEqual([1, 2]);
    expect(followerSeqs).toEqual([1]);

    // The leader's connection drops; its next attempt takes cursor 2 and holds.
    gate = new Promise((resolve) => {
      open = resolve;
    });
    backend.drop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(leader.getState().status).not.toBe('connected');

    // Meanwhile the follower sees the hole (a batch that continues from 2) and asks.
    followerChannel!.dispatchEvent(
      new MessageEvent('message', {
        data: JSON.stringify({
          v: 1,
          from: 'another-tab',
          type: 'frame',
          frame: { type: 'batch', events: [], after: { tasks: 2 }, cursor: { tasks: 2 } },
        }),
      }),
    );
    await vi.advanceTimersByTimeAsync(50);
    expect(follower.getState().counters.gaps).toBe(1);

    // The attempt goes through from cursor 2; nothing new is published.
    gate = undefined;
    open();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(leader.getState().status).toBe('connected');
    expect(followerSeqs).toEqual([1, 2]);
    expect(leaderSeqs).toEqual([1, 2]);
  });
});
