import { afterEach, describe, expect, it } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import { pendingUntilAborted, scriptedFetch } from './transports/fakes';

// A transport named in `transports` is built by the client, which must hand
// it the platform's time sources: every time source is injected. Long-poll
// paced its polls (after answers that came back at once with nothing new)
// on the global timers, so a page driving the client on its own clock (the
// fake browser of tabwire/testing, a test's manual clock) saw the next poll
// come on the wall clock's time instead.

/** A clock whose time moves only when the test says: its timers fire in `advance`. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      timers.set(++nextId, { at: now + ms, fn });
      return nextId;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > now) break;
        timers.delete(id);
        timer.fn();
      }
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

const clients: RealtimeClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe('transports named in the options', () => {
  it("pace long-poll's polls on the platform's clock", async () => {
    const clock = manualClock();
    // A backend that welcomes, then answers every poll at once with a 204.
    const { fetch, calls } = scriptedFetch((call, index) => {
      if (index === 0) {
        const welcome = {
          type: 'welcome',
          connectionId: 'c1',
          serverTime: 1,
          heartbeatMs: 25_000,
          cursor: {},
        };
        return new Response(JSON.stringify({ frames: [welcome] }), { status: 200 });
      }
      return index < 50 ? new Response(null, { status: 204 }) : pendingUntilAborted(call.signal);
    });
    const polls = () => calls.filter((call) => call.url.includes('/poll')).length;
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      transports: ['long-poll'],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
      platform: { clock, fetch, wallClock: () => 1_000_000 },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    // The welcome, then the loop's first poll, answered at once: a pause of 1 s on the clock.
    // (The transport's code loads with import() first, in real time.)
    for (let waited = 0; polls() < 2 && waited < 5000; waited += 20) await settle();
    await settle();
    expect(polls()).toBe(2);
    clock.advance(999);
    await settle();
    expect(polls()).toBe(2);
    clock.advance(1);
    await settle();
    expect(polls()).toBe(3);
    // Then 2 s.
    clock.advance(1999);
    await settle();
    expect(polls()).toBe(3);
    clock.advance(1);
    await settle();
    expect(polls()).toBe(4);
  });
});
