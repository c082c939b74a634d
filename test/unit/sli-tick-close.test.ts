import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// Every 10 s while active the client evaluates its guard, updates the
// state and emits `sli`, then re-arms the tick. All three run app listeners
// synchronously; one that closes the client there (an app that turns
// realtime off when its SLIs alert) made the tick re-arm itself after
// close(), which had already cleared it: a timer of a closed client, which
// in Node also keeps the process alive for another 10 s.

const SLI_TICK_MS = 10_000;

let live = 0;
const ids = new Set<unknown>();
// The global (fake) timers, counting the client's own that are pending.
const clock: Clock = {
  now: globalTimersClock.now,
  setTimeout: (fn, ms) => {
    const id: unknown = globalTimersClock.setTimeout(() => {
      ids.delete(id);
      live = ids.size;
      fn();
    }, ms);
    ids.add(id);
    live = ids.size;
    return id;
  },
  clearTimeout: (id) => {
    ids.delete(id);
    live = ids.size;
    globalTimersClock.clearTimeout(id);
  },
};

let rt: RealtimeClient;

beforeEach(() => {
  vi.useFakeTimers();
  ids.clear();
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  rt = createRealtime(memoryOptions(backend, { platform: { clock, random: () => 0.5 } }));
});
afterEach(async () => {
  await rt.close();
  vi.useRealTimers();
});

describe('the SLI tick', () => {
  it('leaves no timer behind when an sli listener closes the client', async () => {
    let sliEvents = 0;
    rt.on('sli', () => {
      sliEvents++;
      void rt.close();
    });
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(SLI_TICK_MS);
    expect(sliEvents).toBe(1);
    expect(rt.getState().status).toBe('closed');
    expect(live).toBe(0);
  });

  it('leaves no timer behind when a statechange listener closes the client during the tick', async () => {
    rt.on('sli', () => {});
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(SLI_TICK_MS - 1);
    // The tick's state update (its SLO figures) is the next statechange.
    rt.on('statechange', () => void rt.close());
    await vi.advanceTimersByTimeAsync(1);
    expect(rt.getState().status).toBe('closed');
    expect(live).toBe(0);
  });

  it('(control) leaves no timer behind when closed between ticks', async () => {
    rt.on('sli', () => {});
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(SLI_TICK_MS + 1);
    await rt.close();
    expect(live).toBe(0);
  });
});
