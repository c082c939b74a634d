import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../../src/testing';
import type { TransportContext } from '../../../src/transports/types';

function context(cursor: Record<string, number> = {}) {
  const frames: Array<Record<string, unknown>> = [];
  const ctx: TransportContext = {
    url: 'http://tabwire.test/v2/realtime',
    services: ['tasks'],
    propertyIds: null,
    cursor,
    onFrame: (frame) => frames.push(JSON.parse(String(frame)) as Record<string, unknown>),
    onClose: () => {},
    signal: new AbortController().signal,
  };
  return { ctx, frames };
}

describe('createMemoryBackend', () => {
  it('sends the welcome first: what is published before it comes in the replay after it', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    backend.publish({ service: 'tasks' });
    const { ctx, frames } = context({ tasks: 1 });
    const conn = await backend.transport.connect(ctx);
    backend.publish({ service: 'tasks' }); // between connect and welcome
    await Promise.resolve();
    backend.publish({ service: 'tasks' });
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'batch', 'batch']);
    expect(frames[0]?.cursor).toEqual({ tasks: 1 });
    expect(frames[1]).toMatchObject({ after: { tasks: 1 }, cursor: { tasks: 2 } });
    expect(frames[2]).toMatchObject({ after: { tasks: 2 }, cursor: { tasks: 3 } });
    conn.close();
  });

  it('answers a cursor ahead of the head with a reset (epoch_changed) after the welcome, as the dev server does', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    // Seq 5 was seen before the server lost its log (a new epoch).
    const { ctx, frames } = context({ tasks: 5 });
    const conn = await backend.transport.connect(ctx);
    backend.publish({ service: 'tasks' }); // between connect and welcome
    await Promise.resolve();
    backend.publish({ service: 'tasks' });
    expect(frames).toEqual([
      expect.objectContaining({ type: 'welcome', cursor: { tasks: 2 } }),
      { type: 'reset', services: ['tasks'], cursor: { tasks: 2 }, reason: 'epoch_changed' },
      expect.objectContaining({ type: 'batch', after: { tasks: 2 }, cursor: { tasks: 3 } }),
      expect.objectContaining({ type: 'batch', after: { tasks: 3 }, cursor: { tasks: 4 } }),
    ]);
    conn.close();
  });

  it('sends error frames to live connections', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const { ctx, frames } = context();
    const conn = await backend.transport.connect(ctx);
    await Promise.resolve();
    backend.error('overloaded', 'busy', 500);
    backend.error('unauthorized');
    expect(frames.slice(1)).toEqual([
      { type: 'error', code: 'overloaded', message: 'busy', retryAfterMs: 500 },
      { type: 'error', code: 'unauthorized', message: 'unauthorized' },
    ]);
    conn.close();
  });

  // "Down for good": the count was a list of errors built up front, so
  // Infinity threw (an invalid array length) and 1_000_000 took seconds.
  it('fails every connect after failNextConnects(Infinity), and connects again after failNextConnects(0)', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    backend.failNextConnects(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 3; i++) {
      await expect(backend.transport.connect(context().ctx)).rejects.toMatchObject({
        code: 'transport_unavailable',
      });
    }
    backend.failNextConnects(0);
    const conn = await backend.transport.connect(context().ctx);
    expect(backend.connectCount).toBe(4);
    conn.close();
  });

  it('refuses a failNextConnects count that is negative or not a number, naming it', () => {
    const backend = createMemoryBackend();
    expect(() => backend.failNextConnects(-1)).toThrow(
      new RangeError('failNextConnects needs a whole count ≥ 0 (or Infinity), got -1'),
    );
    expect(() => backend.failNextConnects(Number.NaN)).toThrow(RangeError);
  });
});
