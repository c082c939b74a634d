import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// A server restart (or a network blip) is no harm the rollback guard should
// act on. Failed connects used to count in its error rate, over attempts and
// frames: a quiet tab connected for 5 minutes had about 20 heartbeats in the
// window (one per 15 s), so the second failed reconnect of a restart gave
// 2/22 > 5 %, tripped `error_rate`, and with the default cooldown (0) kept
// realtime off until the page reloaded: every backend deploy turned realtime
// off for its long-connected users. The rate is now invalid frames over
// frames; a backend that keeps refusing connections trips `circuit_open`.

const clients: RealtimeClient[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

/** Subscribes `rt` to `tasks`: the reasons of its `fallback` events and the seqs its handler got. */
function watch(rt: RealtimeClient): { fallbacks: string[]; seqs: number[] } {
  const fallbacks: string[] = [];
  rt.on('fallback', ({ reason }) => fallbacks.push(reason));
  const seqs: number[] = [];
  rt.subscribe('tasks', (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return { fallbacks, seqs };
}

describe('rollback guard and a server restart', () => {
  it.each([2, 3, 5])(
    'a tab connected 5+ minutes on a quiet stream survives %i failed reconnects, with the default thresholds',
    async (failures) => {
      const backend = createMemoryBackend({ heartbeatMs: 15_000 });
      const rt = createRealtime(
        memoryOptions(backend, { platform: { clock: globalTimersClock, random: () => 0.5 } }),
      );
      clients.push(rt);
      const { fallbacks, seqs } = watch(rt);
      await vi.advanceTimersByTimeAsync(1_000);
      backend.publish({ service: 'tasks' });
      // Heartbeats only, long enough to fill the 5-minute window.
      await vi.advanceTimersByTimeAsync(6 * 60_000);
      expect(rt.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });

      // The restart: the connection drops, the next reconnects are refused.
      const connects = backend.connectCount;
      backend.failNextConnects(failures);
      backend.drop();
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(2 * 60_000);

      expect(fallbacks).toEqual([]);
      expect(rt.getState()).toMatchObject({
        status: 'connected',
        rollback: { state: 'ok' },
        counters: { failedConnects: failures },
      });
      expect(backend.connectCount - connects).toBe(failures + 1);
      expect(seqs).toEqual([1, 2]);
    },
  );
});

describe('rollback guard and a tab offline', () => {
  // The circuit opened (the network went, the browser noticed late), then
  // the browser said offline: the loop waits for `online`, and that time
  // says nothing of the backend. Counted as open, 5 minutes of it tripped
  // `circuit_open`, and with the default cooldown (0) realtime stayed off
  // once the network was back.
  it('time offline with the circuit open does not trip circuit_open; back online it reconnects', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 15_000 });
    const navigator = { onLine: true };
    const win = new EventTarget();
    const rt = createRealtime(
      memoryOptions(backend, {
        platform: { clock: globalTimersClock, random: () => 0.5, navigator, window: win },
      }),
    );
    clients.push(rt);
    const { fallbacks, seqs } = watch(rt);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState().status).toBe('connected');

    // The network goes: refused reconnects open the circuit, then offline.
    backend.failNextConnects(Number.POSITIVE_INFINITY);
    backend.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().circuit.state).not.toBe('closed');
    navigator.onLine = false;
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(6 * 60_000);
    expect(fallbacks).toEqual([]);
    expect(rt.getState().rollback.state).toBe('ok');

    // Back: the next connect goes through.
    backend.failNextConnects(0);
    navigator.onLine = true;
    win.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(70_000);
    expect(fallbacks).toEqual([]);
    expect(rt.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
    expect(seqs).toEqual([1]);
  });
});
