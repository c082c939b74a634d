import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { memoryOptions } from '../react/helpers';

// trackMutation settles `visible` "when an event carrying mutationId reaches
// this tab". The echo was observed only after the batch's handlers ran, so a
// handler of the very batch carrying the echo still saw the mutation
// `pending`, and one that closed the client (client-close-in-handler is a
// supported case) turned the confirmed write into `cancelled`/`disposed`:
// useOptimisticMutation then rolled it back.

let rt: RealtimeClient | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await rt?.close();
  rt = undefined;
  vi.useRealTimers();
});

describe('the echo is seen before the handlers of its batch run', () => {
  it('a handler that closes the client on the echo batch leaves the mutation visible', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const client = createRealtime(memoryOptions(backend));
    rt = client;
    const m = client.trackMutation('m_1', { timeoutMs: 5000 });
    client.subscribe('tasks', (events) => {
      if (events.some((e) => e.mutationId === 'm_1')) void client.close();
    });
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(40);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await expect(m.result).resolves.toEqual({ status: 'visible', latencyMs: 40 });
  });

  it('a handler of the echo batch finds the mutation visible', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const client = createRealtime(memoryOptions(backend));
    rt = client;
    const m = client.trackMutation('m_1', { timeoutMs: 5000 });
    const seen: string[] = [];
    client.subscribe('tasks', () => seen.push(m.status()));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    expect(seen).toEqual(['visible']);
  });
});
