import { describe, expect, it } from 'vitest';
import { DEFAULT_DEDUP_CAPACITY } from '../../../src/pipeline/dedup-window';
import { EventPipeline, LEFT_SERVICES_MAX } from '../../../src/pipeline/event-pipeline';
import { parseServerFrame } from '../../../src/protocol/parse';
import type { BatchFrame, ServerFrame } from '../../../src/protocol/schemas';
import { makeBatch, makeEvent, RecordingSink } from './fixtures';

function setup(options?: { dedupCapacity?: number }) {
  const sink = new RecordingSink();
  const pipeline = new EventPipeline(sink, options?.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY);
  sink.cursorOf = () => pipeline.getCursor();
  return { sink, pipeline };
}

describe('EventPipeline: cursor and gap rules', () => {
  it('starts a service with no cursor at the after of its first batch', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 40, [41, 42, 43]));
    expect(sink.seqs('tasks')).toEqual([41, 42, 43]);
    expect(pipeline.getCursor()).toEqual({ tasks: 43 });
    expect(sink.gaps()).toEqual([]);
  });

  it('applies a batch whose after equals the cursor, and the sink sees the new cursor', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 10 });
    pipeline.applyFrame(makeBatch('tasks', 10, [11, 12]));
    expect(sink.calls).toEqual([
      { kind: 'events', service: 'tasks', seqs: [11, 12], cursorSeen: { tasks: 12 } },
    ]);
  });

  it('reports a gap, applies nothing of the service and keeps its cursor', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 10 });
    pipeline.applyFrame(makeBatch('tasks', 12, [13, 14]));
    expect(sink.calls).toEqual([{ kind: 'gap', gap: { service: 'tasks', cursor: 10, after: 12 } }]);
    expect(pipeline.getCursor()).toEqual({ tasks: 10 });
    // The replay from the cursor then fills the hole in order.
    pipeline.applyFrame(makeBatch('tasks', 10, [11, 12, 13, 14]));
    expect(sink.seqs('tasks')).toEqual([11, 12, 13, 14]);
    expect(pipeline.getCursor()).toEqual({ tasks: 14 });
  });

  it('drops the overlap of a replay as duplicates and applies the rest', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 12 });
    pipeline.applyFrame(makeBatch('tasks', 9, [10, 11, 12, 13, 14]));
    expect(sink.seqs('tasks')).toEqual([13, 14]);
    expect(sink.suppressed('tasks', 'duplicate')).toBe(3);
    expect(pipeline.getCursor()).toEqual({ tasks: 14 });
  });

  it('moves the cursor to the batch cursor even past its last event (filtered seqs)', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 5 });
    pipeline.applyFrame(makeBatch('tasks', 5, [6], 9));
    expect(pipeline.getCursor()).toEqual({ tasks: 9 });
    pipeline.applyFrame(makeBatch('tasks', 9, [], 12));
    expect(pipeline.getCursor()).toEqual({ tasks: 12 });
    expect(sink.calls.filter((c) => c.kind === 'events')).toHaveLength(1);
  });

  it('never moves a cursor backwards on an overlapping batch', () => {
    const { pipeline } = setup();
    pipeline.seed({ tasks: 20 });
    pipeline.applyFrame(makeBatch('tasks', 10, [11, 12], 12));
    expect(pipeline.getCursor()).toEqual({ tasks: 20 });
  });

  it('reports a gap for a service the batch covers without events', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 3 });
    pipeline.applyFrame(makeBatch('tasks', 7, [], 9));
    expect(sink.gaps()).toEqual([{ service: 'tasks', cursor: 3, after: 7 }]);
    expect(pipeline.getCursor()).toEqual({ tasks: 3 });
  });
});

describe('EventPipeline: invalid and duplicate events', () => {
  it('refuses events out of order, repeated or outside (after, cursor] as invalid', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 10 });
    const batch = makeBatch('tasks', 10, [11, 13, 12, 13, 14, 10, 16], 15);
    pipeline.applyFrame(batch);
    // 12 after 13: out of order; 13 again: repeated; 10: at/below after; 16: beyond the batch cursor.
    expect(sink.seqs('tasks')).toEqual([11, 13, 14]);
    expect(sink.suppressed('tasks', 'invalid')).toBe(4);
    expect(pipeline.getCursor()).toEqual({ tasks: 15 });
  });

  it('refuses events of a service missing from after or cursor', () => {
    const { sink, pipeline } = setup();
    const batch: BatchFrame = {
      type: 'batch',
      events: [makeEvent('tasks', 1), makeEvent('finance', 1), makeEvent('billing', 1)],
      after: { tasks: 0, finance: 0 },
      cursor: { tasks: 1, billing: 1 },
    };
    pipeline.applyFrame(batch);
    expect(sink.seqs('tasks')).toEqual([1]);
    expect(sink.suppressed('finance', 'invalid')).toBe(1);
    expect(sink.suppressed('billing', 'invalid')).toBe(1);
    expect(pipeline.getCursor()).toEqual({ tasks: 1 });
  });

  it('refuses every event of a service whose after is beyond its batch cursor', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame({
      type: 'batch',
      events: [makeEvent('tasks', 6)],
      after: { tasks: 5 },
      cursor: { tasks: 4 },
    });
    expect(sink.suppressed('tasks', 'invalid')).toBe(1);
    expect(pipeline.getCursor()).toEqual({});
  });

  it('drops an event whose dedup key was seen, even with a new seq', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2]));
    pipeline.applyFrame({
      type: 'batch',
      events: [makeEvent('tasks', 3, { eventId: 'evt_tasks_1' }), makeEvent('tasks', 4)],
      after: { tasks: 2 },
      cursor: { tasks: 4 },
    });
    expect(sink.seqs('tasks')).toEqual([1, 2, 4]);
    expect(sink.suppressed('tasks', 'duplicate')).toBe(1);
    expect(pipeline.getCursor()).toEqual({ tasks: 4 });
  });

  it('keys dedup by entity type too, and keeps one window per service', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame({
      type: 'batch',
      events: [
        makeEvent('tasks', 1, { eventId: 'e1' }),
        makeEvent('tasks', 2, { eventId: 'e1', entityType: 'comment' }),
        makeEvent('finance', 1, { eventId: 'e1' }),
      ],
      after: { tasks: 0, finance: 0 },
      cursor: { tasks: 2, finance: 1 },
    });
    expect(sink.seqs('tasks')).toEqual([1, 2]);
    expect(sink.seqs('finance')).toEqual([1]);
  });

  it('forgets dedup keys beyond dedupCapacity per service', () => {
    const { sink, pipeline } = setup({ dedupCapacity: 2 });
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2, 3])); // keys of 2 and 3 remain
    pipeline.applyFrame({
      type: 'batch',
      events: [
        makeEvent('tasks', 4, { eventId: 'evt_tasks_1' }),
        makeEvent('tasks', 5, { eventId: 'evt_tasks_3' }),
      ],
      after: { tasks: 3 },
      cursor: { tasks: 5 },
    });
    expect(sink.seqs('tasks')).toEqual([1, 2, 3, 4]);
    expect(sink.suppressed('tasks', 'duplicate')).toBe(1);
  });

  it('dedups events without eventId by seq alone', () => {
    const { sink, pipeline } = setup();
    const noId = (seq: number) => makeEvent('tasks', seq, { eventId: undefined });
    pipeline.applyFrame({
      type: 'batch',
      events: [noId(1), noId(2)],
      after: { tasks: 0 },
      cursor: { tasks: 2 },
    });
    pipeline.applyFrame({
      type: 'batch',
      events: [noId(2), noId(3)],
      after: { tasks: 1 },
      cursor: { tasks: 3 },
    });
    expect(sink.seqs('tasks')).toEqual([1, 2, 3]);
    expect(sink.suppressed('tasks', 'duplicate')).toBe(1);
  });

  it('reports counts once per service per batch, then the events', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 2 });
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2, 3, 3]));
    expect(sink.calls).toEqual([
      { kind: 'suppressed', service: 'tasks', count: 1, reason: 'invalid' },
      { kind: 'suppressed', service: 'tasks', count: 2, reason: 'duplicate' },
      { kind: 'events', service: 'tasks', seqs: [3], cursorSeen: { tasks: 3 } },
    ]);
  });
});

describe('EventPipeline: services', () => {
  it('handles a batch of several services independently', () => {
    const { sink, pipeline } = setup();
    pipeline.seed({ tasks: 1, finance: 5 });
    pipeline.applyFrame({
      type: 'batch',
      events: [makeEvent('tasks', 2), makeEvent('finance', 9), makeEvent('tasks', 3), makeEvent('crm', 1)],
      after: { tasks: 1, finance: 8, crm: 0 },
      cursor: { tasks: 3, finance: 9, crm: 1 },
    });
    expect(sink.calls.filter((c) => c.kind === 'events')).toEqual([
      { kind: 'events', service: 'tasks', seqs: [2, 3], cursorSeen: { tasks: 3, finance: 5, crm: 1 } },
      { kind: 'events', service: 'crm', seqs: [1], cursorSeen: { tasks: 3, finance: 5, crm: 1 } },
    ]);
    expect(sink.gaps()).toEqual([{ service: 'finance', cursor: 5, after: 8 }]);
    expect(pipeline.getCursor()).toEqual({ tasks: 3, finance: 5, crm: 1 });
  });

  it('handles batches that interleave many services (more than the lane scan threshold)', () => {
    const { sink, pipeline } = setup();
    const services = Array.from({ length: 20 }, (_, i) => `s${i}`);
    const events = [1, 2].flatMap((seq) => services.map((s) => makeEvent(s, seq)));
    const bounds = (seq: number) => Object.fromEntries(services.map((s) => [s, seq]));
    pipeline.applyFrame({ type: 'batch', events, after: bounds(0), cursor: bounds(2) });
    for (const s of services) expect(sink.seqs(s)).toEqual([1, 2]);
    expect(sink.calls.filter((c) => c.kind === 'events')).toHaveLength(20);
  });

  it('suppresses services outside setServices as unsubscribed and keeps their cursors', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2]));
    pipeline.setServices(['finance'], {});
    pipeline.applyFrame(makeBatch('tasks', 2, [3, 4]));
    expect(sink.seqs('tasks')).toEqual([1, 2]);
    expect(sink.suppressed('tasks', 'unsubscribed')).toBe(2);
    expect(pipeline.getCursor()).toEqual({ tasks: 2 });
    // Re-subscribing continues from the kept cursor: the next live batch is a gap to replay.
    pipeline.setServices(['finance', 'tasks'], {});
    pipeline.applyFrame(makeBatch('tasks', 4, [5]));
    expect(sink.gaps()).toEqual([{ service: 'tasks', cursor: 2, after: 4 }]);
  });

  it('keeps the state of the services left last only', () => {
    // A page subscribing one service per document it opens kept a cursor and
    // a dedup window for every one it ever had.
    const { sink, pipeline } = setup();
    const n = LEFT_SERVICES_MAX + 3;
    for (let i = 0; i < n; i++) {
      pipeline.setServices(['tasks', `doc${i}`], {});
      pipeline.applyFrame(makeBatch(`doc${i}`, 0, [1]));
      pipeline.setServices(['tasks'], {});
    }
    expect(Object.keys(pipeline.getCursor())).toEqual(
      Array.from({ length: LEFT_SERVICES_MAX }, (_, i) => `doc${i + 3}`),
    );
    // One left recently and back: still deduplicated (a publisher's retry of
    // an event under a new seq), and a gap from where it stopped.
    pipeline.setServices(['doc3'], {});
    pipeline.applyFrame(makeBatch('doc3', 1, [2]));
    pipeline.applyFrame({
      ...makeBatch('doc3', 2, [3]),
      events: [makeEvent('doc3', 3, { eventId: 'evt_doc3_1' })],
    });
    pipeline.applyFrame(makeBatch('doc3', 5, [6]));
    expect(sink.seqs('doc3')).toEqual([1, 2]);
    expect(sink.suppressed('doc3', 'duplicate')).toBe(1);
    expect(sink.gaps()).toEqual([{ service: 'doc3', cursor: 3, after: 5 }]);
    // One forgotten and back starts anew where its next batch continues from.
    pipeline.setServices(['doc0'], {});
    pipeline.applyFrame(makeBatch('doc0', 9, [10]));
    expect(sink.seqs('doc0')).toEqual([1, 10]);
  });

  it('forgets what the caller keeps per service alike, oldest to leave first', () => {
    const { pipeline } = setup();
    pipeline.setServices(['a', 'b'], {});
    pipeline.applyFrame(makeBatch('a', 0, [1]));
    // 'b' has no cursor but an epoch (say): it left first, with 'a'.
    const epochs: Record<string, string> = { b: 'x' };
    pipeline.setServices([], epochs);
    const names = Array.from({ length: LEFT_SERVICES_MAX }, (_, i) => `e${i}`);
    for (const name of names) epochs[name] = 'x';
    pipeline.setServices([], epochs);
    expect(pipeline.getCursor()).toEqual({});
    expect(Object.keys(epochs)).toEqual(names);
    // Subscribed again, a service is no longer out of the union.
    pipeline.setServices(['e0'], epochs);
    epochs.y = 'x';
    pipeline.setServices([], epochs);
    expect(Object.keys(epochs)).toEqual(names.filter((name) => name !== 'e1').concat('y'));
  });

  it('forget drops a cursor so the next batch starts the service afresh', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2]));
    pipeline.forget('tasks');
    expect(pipeline.getCursor()).toEqual({});
    pipeline.applyFrame(makeBatch('tasks', 7, [8]));
    expect(sink.seqs('tasks')).toEqual([1, 2, 8]);
    expect(sink.gaps()).toEqual([]);
  });

  it('seed sets only services that have no cursor and ignores corrupt entries', () => {
    const { pipeline } = setup();
    pipeline.seed({ tasks: 5 });
    pipeline.seed({ tasks: 1, finance: 3, 'bad name': 4, crm: -1, ops: 1.5 } as Record<string, number>);
    expect(pipeline.getCursor()).toEqual({ tasks: 5, finance: 3 });
    pipeline.seed(JSON.parse('{"__proto__": 9, "constructor": 9}'));
    expect(pipeline.getCursor()).toEqual({ tasks: 5, finance: 3 });
  });

  it('getCursor returns a copy the caller may change', () => {
    const { pipeline } = setup();
    pipeline.seed({ tasks: 5 });
    const copy = pipeline.getCursor();
    copy.tasks = 99;
    expect(pipeline.getCursor()).toEqual({ tasks: 5 });
  });
});

describe('EventPipeline: frames', () => {
  it('a welcome seeds without moving known cursors', () => {
    const { pipeline } = setup();
    pipeline.seed({ tasks: 9 });
    pipeline.applyFrame({
      type: 'welcome',
      connectionId: 'c1',
      serverTime: 1,
      heartbeatMs: 15000,
      cursor: { tasks: 3, finance: 4 },
    });
    expect(pipeline.getCursor()).toEqual({ tasks: 9, finance: 4 });
  });

  it('a reset jumps the cursor, clears dedup memory and reports a resync', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2, 3]));
    pipeline.applyFrame(makeBatch('finance', 0, [1]));
    pipeline.applyFrame({
      type: 'reset',
      services: ['tasks'],
      cursor: { tasks: 0 },
      reason: 'epoch_changed',
    });
    expect(pipeline.getCursor()).toEqual({ tasks: 0, finance: 1 });
    expect(sink.calls.at(-1)).toEqual({
      kind: 'resync',
      reset: { services: ['tasks'], cursor: { tasks: 0 }, reason: 'epoch_changed' },
    });
    // Seqs and ids start over in the new epoch: the same ids are new again.
    sink.clear();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2]));
    expect(sink.seqs('tasks')).toEqual([1, 2]);
  });

  it('a reset without a cursor for a service forgets it, to start at the next batch', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame(makeBatch('tasks', 0, [1, 2]));
    pipeline.applyFrame({ type: 'reset', services: ['tasks', 'crm'], cursor: { crm: 4 }, reason: 'expired' });
    expect(pipeline.getCursor()).toEqual({ crm: 4 });
    pipeline.applyFrame(makeBatch('tasks', 50, [51]));
    expect(sink.seqs('tasks')).toEqual([1, 2, 51]);
  });

  it('applyFrame routes batch, reset and welcome and ignores heartbeat and error', () => {
    const { sink, pipeline } = setup();
    const frames: ServerFrame[] = [
      { type: 'welcome', connectionId: 'c', serverTime: 0, heartbeatMs: 1000, cursor: { tasks: 0 } },
      { type: 'heartbeat', serverTime: 5 },
      makeBatch('tasks', 0, [1]),
      { type: 'error', code: 'overloaded', message: 'busy', retryAfterMs: 10 },
      { type: 'reset', services: ['tasks'], cursor: { tasks: 7 }, reason: 'r' },
    ];
    for (const frame of frames) pipeline.applyFrame(frame);
    expect(sink.calls.map((c) => c.kind)).toEqual(['events', 'resync']);
    expect(pipeline.getCursor()).toEqual({ tasks: 7 });
  });
});

describe('EventPipeline: prototype-key service names', () => {
  const hostile = ['__proto__', 'constructor', 'prototype'];

  it.each(hostile)('parseServerFrame refuses an event of service %s', (name) => {
    const text = `{"type":"batch","events":[{"service":${JSON.stringify(name)},"entityType":"t","type":"x","seq":1,"ts":1,"orgId":"o"}],"after":{},"cursor":{}}`;
    const result = parseServerFrame(text);
    expect(result.ok).toBe(false);
  });

  it.each(['constructor', 'prototype'])('parseServerFrame refuses %s as a cursor key', (name) => {
    const text = `{"type":"batch","events":[],"after":{${JSON.stringify(name)}:1},"cursor":{}}`;
    expect(parseServerFrame(text)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('parseServerFrame drops a __proto__ cursor key without touching any prototype', () => {
    const result = parseServerFrame(
      '{"type":"batch","events":[],"after":{"__proto__":{"x":1},"tasks":1},"cursor":{"tasks":1}}',
    );
    expect(result.ok).toBe(true);
    if (!result.ok || result.frame.type !== 'batch') throw new Error('expected a batch');
    expect(Object.keys(result.frame.after)).toEqual(['tasks']);
    expect(Object.getPrototypeOf(result.frame.after)).toBe(Object.prototype);
  });

  it('treats such names as invalid even in a frame that skipped the schema, and pollutes nothing', () => {
    const { sink, pipeline } = setup();
    const raw = JSON.parse(
      '{"type":"batch","events":[{"service":"__proto__","entityType":"t","type":"x","seq":1,"ts":1,"orgId":"o"},' +
        '{"service":"toString","entityType":"t","type":"x","seq":1,"ts":1,"orgId":"o"}],' +
        '"after":{"__proto__":0},"cursor":{"__proto__":1}}',
    ) as BatchFrame;
    pipeline.applyFrame(raw);
    expect(sink.suppressed('__proto__', 'invalid')).toBe(1);
    expect(sink.suppressed('toString', 'invalid')).toBe(1);
    expect(pipeline.getCursor()).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(pipeline.getCursor())).toBe(Object.prototype);
  });

  it('refuses a NaN seq from a frame that skipped the schema', () => {
    const { sink, pipeline } = setup();
    pipeline.applyFrame({
      type: 'batch',
      events: [makeEvent('tasks', Number.NaN)],
      after: { tasks: 0 },
      cursor: { tasks: 1 },
    });
    expect(sink.suppressed('tasks', 'invalid')).toBe(1);
    expect(sink.seqs('tasks')).toEqual([]);
  });
});
