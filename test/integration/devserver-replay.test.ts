import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { encodeCursor } from '../../src/protocol/cursor';
import {
  devToken,
  eventsOf,
  isType,
  ORG,
  openSse,
  openWsStream,
  poll,
  task,
  until,
} from './devserver-helpers';

// Stream starts from a client's cursor: replay, chunking, resets, and what
// survives stop/start/restart.
describe('dev server replay', () => {
  let server: DevServer;

  afterEach(async () => {
    await server.close();
  });

  it('replays (cursor, head] in chunks of maxBatchSize, after the welcome', async () => {
    server = await startDevServer({ replayBufferSize: 10, maxBatchSize: 3 });
    for (let i = 0; i < 7; i++) server.publish(ORG, task());
    const ws = await openWsStream(server.url, {
      token: devToken(),
      services: ['tasks'],
      cursor: { tasks: 2 },
    });
    await until(() => eventsOf(ws.frames.items).length === 5, 2000, 'replay');
    const [welcome, ...rest] = ws.frames.items;
    expect(welcome).toMatchObject({ type: 'welcome', cursor: { tasks: 2 } });
    expect(rest).toMatchObject([
      { type: 'batch', after: { tasks: 2 }, cursor: { tasks: 5 } },
      { type: 'batch', after: { tasks: 5 }, cursor: { tasks: 7 } },
    ]);
    expect(eventsOf(rest).map((e) => e.seq)).toEqual([3, 4, 5, 6, 7]);
    const catchUp = server.metrics().lastCatchUp;
    expect(catchUp).toMatchObject({
      connectionId: (welcome as { connectionId: string }).connectionId,
      eventCount: 5,
    });
    expect(Number.isNaN(Date.parse(catchUp?.completedAt ?? ''))).toBe(false);
    ws.ws.close();
  });

  it('the oldest replayable cursor is oldest buffered - 1; older gets reset buffer_expired', async () => {
    server = await startDevServer({ replayBufferSize: 5 });
    for (let i = 0; i < 10; i++) server.publish(ORG, task());
    const edge = await poll(server.url, { token: devToken(), services: ['tasks'], cursor: { tasks: 5 } });
    expect(edge.frames[0]).toMatchObject({ type: 'welcome', cursor: { tasks: 5 } });
    expect(eventsOf(edge.frames).map((e) => e.seq)).toEqual([6, 7, 8, 9, 10]);

    const expired = await poll(server.url, { token: devToken(), services: ['tasks'], cursor: { tasks: 4 } });
    expect(expired.frames).toMatchObject([
      { type: 'welcome', cursor: { tasks: 10 } },
      { type: 'reset', services: ['tasks'], cursor: { tasks: 10 }, reason: 'buffer_expired' },
    ]);
  });

  it('a service without a client cursor starts at the head; one at the head gets nothing', async () => {
    server = await startDevServer();
    server.publish(ORG, task());
    server.publish(ORG, { service: 'finance', entityType: 'invoice', type: 'invoice.paid' });
    const opened = await poll(server.url, {
      token: devToken(),
      services: ['tasks', 'finance'],
      cursor: { tasks: 1 },
    });
    expect(opened.frames).toEqual([
      expect.objectContaining({ type: 'welcome', cursor: { tasks: 1, finance: 1 } }),
    ]);
  });

  it('SSE resumes from Last-Event-ID when the query has no cursor', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const token = devToken();
    const first = await openSse(server.url, { token, services: ['tasks'] });
    await first.frames.waitFor(isType('welcome'));
    server.publish(ORG, task());
    await first.messages.waitFor((m) => m.event === 'batch');
    const lastId = first.messages.items.find((m) => m.event === 'batch')?.id ?? '';
    first.close();
    server.publish(ORG, task());
    server.publish(ORG, task());

    const resumed = await openSse(server.url, {
      token,
      services: ['tasks'],
      headers: { 'Last-Event-ID': lastId },
    });
    const batch = await resumed.frames.waitFor(isType('batch'));
    expect(batch).toMatchObject({ after: { tasks: 1 }, cursor: { tasks: 3 } });
    expect(batch.events.map((e) => e.seq)).toEqual([2, 3]);
    // The query parameter wins over the header.
    const byQuery = await openSse(server.url, {
      token,
      services: ['tasks'],
      cursor: { tasks: 2 },
      headers: { 'Last-Event-ID': encodeCursor({ tasks: 0 }) },
    });
    expect((await byQuery.frames.waitFor(isType('batch'))).after).toEqual({ tasks: 2 });
    resumed.close();
    byQuery.close();
  });

  it('restart keeps events and seqs: a reconnect with the old cursor loses nothing', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const token = devToken();
    const before = await openWsStream(server.url, { token, services: ['tasks'] });
    await before.frames.waitFor(isType('welcome'));
    for (let i = 0; i < 4; i++) server.publish(ORG, task());
    await until(() => eventsOf(before.frames.items).length === 4, 2000, 'first events');
    const held = before.frames.items.filter(isType('batch')).at(-1)?.cursor ?? {};
    const port = server.port;

    await server.stop();
    expect((await before.closed).code).toBe(1006);
    for (let i = 0; i < 3; i++) server.publish(ORG, task());
    await server.start();
    expect(server.port).toBe(port);

    const after = await openWsStream(server.url, { token, services: ['tasks'], cursor: held });
    await until(() => eventsOf(after.frames.items).length === 3, 2000, 'replayed events');
    const all = [...eventsOf(before.frames.items), ...eventsOf(after.frames.items)].map((e) => e.seq);
    expect(all).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await server.restart({ downMs: 20 });
    expect((await after.closed).code).toBe(1006);
    expect(server.publish(ORG, task()).seq).toBe(8);
  });

  it('restart({ wipe: true }) starts a new epoch: an old cursor gets reset epoch_changed', async () => {
    server = await startDevServer();
    for (let i = 0; i < 5; i++) server.publish(ORG, task());
    await server.restart({ wipe: true });
    expect(server.metrics().epoch).toBe(2);
    expect(server.publish(ORG, task()).seq).toBe(1);
    const sse = await openSse(server.url, { token: devToken(), services: ['tasks'], cursor: { tasks: 5 } });
    const reset = await sse.frames.waitFor(isType('reset'));
    expect(reset).toEqual({
      type: 'reset',
      services: ['tasks'],
      cursor: { tasks: 1 },
      reason: 'epoch_changed',
    });
    expect(sse.frames.items[0]).toMatchObject({ type: 'welcome', cursor: { tasks: 1 } });
    sse.close();
  });

  it('a long-poll whose cursor fell behind the buffer gets a reset on the next poll', async () => {
    server = await startDevServer({ replayBufferSize: 3 });
    const token = devToken();
    const opened = await poll(server.url, { token, services: ['tasks'] });
    const welcome = opened.frames[0];
    if (welcome?.type !== 'welcome') throw new Error('expected welcome');
    for (let i = 0; i < 6; i++) server.publish(ORG, task());
    const next = await poll(server.url, {
      token,
      connectionId: welcome.connectionId,
      cursor: { tasks: 0 },
      wait: 1,
    });
    expect(next.frames).toEqual([
      { type: 'reset', services: ['tasks'], cursor: { tasks: 6 }, reason: 'buffer_expired' },
    ]);
  });
});
