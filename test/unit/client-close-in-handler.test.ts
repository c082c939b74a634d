import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend, type MemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// `close()` "closes the connection and every listener; the client cannot be
// used afterwards". A handler that closes the client (log out, a fatal
// event) must be the last app code the client runs: no other handler of the
// batch, and no handler of another service later in the same frame, may be
// handed events once close() has returned.

function event(service: string, seq: number): RealtimeEvent {
  return {
    service,
    entityType: 'task',
    type: 'task.updated',
    eventId: `${service}_${seq}`,
    seq,
    ts: 1,
    orgId: 'org_test',
    data: {},
  };
}

let rt: RealtimeClient;
let backend: MemoryBackend;

beforeEach(async () => {
  vi.useFakeTimers();
  backend = createMemoryBackend({ heartbeatMs: 60_000 });
  rt = createRealtime(memoryOptions(backend, { platform: { clock: globalTimersClock, random: () => 0.5 } }));
});

afterEach(async () => {
  await rt.close();
  vi.useRealTimers();
});

describe('close() from inside a handler', () => {
  it('calls no handler afterwards: not the next one of the batch, not one of a later service', async () => {
    const calls: string[] = [];
    rt.subscribe('alpha', () => {
      calls.push('alpha#1');
      void rt.close();
    });
    rt.subscribe('alpha', () => calls.push(`alpha#2 after close (${rt.getState().status})`));
    rt.subscribe('beta', () => calls.push(`beta after close (${rt.getState().status})`));
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');

    // One frame covering both services, as a server batches them.
    backend.sendRaw({
      type: 'batch',
      events: [event('alpha', 1), event('beta', 1)],
      after: { alpha: 0, beta: 0 },
      cursor: { alpha: 1, beta: 1 },
    });

    expect(rt.getState().status).toBe('closed');
    expect(calls).toEqual(['alpha#1']);
  });

  it('still lets a handler unsubscribe after close without throwing', async () => {
    let off: () => void = () => {};
    off = rt.subscribe('alpha', () => {
      void rt.close();
      off();
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(() => backend.publish({ service: 'alpha' })).not.toThrow();
    expect(rt.getState().status).toBe('closed');
  });
});
