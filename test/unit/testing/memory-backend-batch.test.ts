import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../../src/testing';
import type { TransportContext } from '../../../src/transports/types';

// publishBatch refuses events of more than one service with a RangeError. A
// refused call must publish nothing: if its events were stored anyway, their
// seqs are used up without ever being sent, and the next live batch's
// `after` still equals what the client holds, so the client applies it and
// never learns of the events in between (no gap, no replay).
describe('createMemoryBackend publishBatch with mixed services', () => {
  it('throws and leaves the logs, the seqs and the live stream untouched', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const frames: Array<Record<string, unknown>> = [];
    const ctx: TransportContext = {
      url: 'http://tabwire.test/v2/realtime',
      services: ['tasks', 'finance'],
      propertyIds: null,
      cursor: {},
      onFrame: (frame) => frames.push(JSON.parse(String(frame)) as Record<string, unknown>),
      onClose: () => {},
      signal: new AbortController().signal,
    };
    const conn = await backend.transport.connect(ctx);
    await Promise.resolve(); // the welcome

    expect(() =>
      backend.publishBatch([{ service: 'tasks' }, { service: 'tasks' }, { service: 'finance' }]),
    ).toThrow(RangeError);
    expect(backend.log('tasks')).toEqual([]);
    expect(backend.log('finance')).toEqual([]);

    const next = backend.publish({ service: 'tasks' });
    expect(next.seq).toBe(1);
    expect(frames.at(-1)).toMatchObject({ after: { tasks: 0 }, cursor: { tasks: 1 } });
    conn.close();
  });
});
