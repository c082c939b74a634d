import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src';
import { createMemoryBackend } from '../../../src/testing';

// A server sends a connection a `reset` only for services it streams. The
// memory backend sent every connection the whole list, so a tab that never
// subscribed to a service got a `resync` for it (and a cursor): an app test
// could not check that resetting one service leaves the others alone.

let rt: RealtimeClient | undefined;
afterEach(async () => {
  await rt?.close();
  vi.useRealTimers();
});

describe('createMemoryBackend().reset', () => {
  it('reaches a client only for the services it subscribed to', async () => {
    vi.useFakeTimers();
    const backend = createMemoryBackend();
    rt = createRealtime({
      url: 'http://tabwire.test/v2/realtime',
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { sampleRate: 0 },
    });
    const resyncs: string[][] = [];
    rt.subscribe('tasks', () => {});
    rt.on('resync', ({ services }) => resyncs.push(services));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'finance' });

    backend.reset(['finance']);
    expect(resyncs).toEqual([]);
    expect(rt.getState().cursor).toEqual({ tasks: 0 });

    backend.publish({ service: 'tasks' });
    backend.reset(['finance', 'tasks']);
    expect(resyncs).toEqual([['tasks']]);
    expect(rt.getState().cursor).toEqual({ tasks: 1 });
  });
});
