import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventPipeline } from '../../../src/pipeline/event-pipeline';
import { parseServerFrame } from '../../../src/protocol/parse';
import type { BatchFrame, Cursor, RealtimeEvent } from '../../../src/protocol/schemas';
import { makeEvent, RecordingSink } from './fixtures';

const SERVICES = ['tasks', 'crm'] as const;
type Service = (typeof SERVICES)[number];

/** What the simulated server holds for one service: events 1..n, some of them not for this subscription. */
interface ServerLog {
  n: number;
  /** seq → sent to this subscription (false = filtered out, only accounted for by batch cursors). */
  sent: boolean[];
  /** seq → carries an eventId (false = deduped by seq alone). */
  withId: boolean[];
}

/** A replay the server sends: (from, to] of a service, optionally with one event sent twice in a row. */
interface RangeSpec {
  from: number;
  to: number;
  repeatAt: number | null;
}

const logArb = fc.integer({ min: 1, max: 30 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    sent: fc.array(fc.boolean(), { minLength: n + 1, maxLength: n + 1 }),
    withId: fc.array(fc.boolean(), { minLength: n + 1, maxLength: n + 1 }),
  }),
);

function rangeArb(n: number): fc.Arbitrary<RangeSpec> {
  return fc
    .record({
      a: fc.integer({ min: 0, max: n }),
      b: fc.integer({ min: 0, max: n }),
      repeatAt: fc.option(fc.nat(40)),
    })
    .map(({ a, b, repeatAt }) => ({ from: Math.min(a, b), to: Math.max(a, b), repeatAt }));
}

function eventsOf(service: Service, log: ServerLog, range: RangeSpec): RealtimeEvent[] {
  const events: RealtimeEvent[] = [];
  for (let seq = range.from + 1; seq <= range.to; seq++) {
    if (!log.sent[seq]) continue;
    const event = makeEvent(service, seq, log.withId[seq] ? {} : { eventId: undefined });
    events.push(event);
    if (range.repeatAt !== null && range.repeatAt % (range.to - range.from) === seq - range.from - 1) {
      events.push(event); // a server bug: sent twice in one batch
    }
  }
  return events;
}

/** A batch covering the services given, their events interleaved but each service's kept in order. */
function batchOf(logs: Record<Service, ServerLog>, ranges: Partial<Record<Service, RangeSpec>>): BatchFrame {
  const frame: BatchFrame = { type: 'batch', events: [], after: {}, cursor: {} };
  const lists: RealtimeEvent[][] = [];
  for (const service of SERVICES) {
    const range = ranges[service];
    if (range === undefined) continue;
    frame.after[service] = range.from;
    frame.cursor[service] = range.to;
    lists.push(eventsOf(service, logs[service], range));
  }
  const longest = Math.max(0, ...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++)
    for (const list of lists) if (i < list.length) frame.events.push(list[i]!);
  return frame;
}

const scenarioArb = fc.record({ tasks: logArb, crm: logArb }).chain((logs) =>
  fc.record({
    logs: fc.constant(logs),
    batches: fc.array(
      fc.record({ tasks: fc.option(rangeArb(logs.tasks.n)), crm: fc.option(rangeArb(logs.crm.n)) }),
      { maxLength: 25 },
    ),
    // Whole batches delivered twice, as a relay or a reconnect might.
    repeats: fc.array(fc.nat(30), { maxLength: 5 }),
  }),
);

describe('EventPipeline under random replays (property)', () => {
  it('delivers each seq at most once, in increasing order, and everything after a full replay from its cursor', () => {
    fc.assert(
      fc.property(scenarioArb, ({ logs, batches, repeats }) => {
        const sink = new RecordingSink();
        const pipeline = new EventPipeline(sink, 8);
        pipeline.seed({ tasks: 0, crm: 0 }); // the welcome cursor: the stream starts before seq 1

        const frames = batches.map((b) =>
          batchOf(logs, { tasks: b.tasks ?? undefined, crm: b.crm ?? undefined }),
        );
        for (const at of repeats)
          if (frames.length > 0) frames.splice(at % frames.length, 0, frames[at % frames.length]!);

        let previous = pipeline.getCursor();
        for (const frame of frames) {
          pipeline.applyFrame(frame);
          const now = pipeline.getCursor();
          for (const service of SERVICES) expect(now[service]!).toBeGreaterThanOrEqual(previous[service]!);
          previous = now;
        }

        // The reconnect: the server replays everything from the pipeline's cursor.
        const cursor = pipeline.getCursor();
        pipeline.applyFrame(
          batchOf(logs, {
            tasks: { from: cursor.tasks!, to: logs.tasks.n, repeatAt: null },
            crm: { from: cursor.crm!, to: logs.crm.n, repeatAt: null },
          }),
        );

        for (const service of SERVICES) {
          const delivered = sink.delivered.get(service) ?? [];
          for (const event of delivered) expect(event.service).toBe(service);
          const seqs = delivered.map((e) => e.seq);
          const expected: number[] = [];
          for (let seq = 1; seq <= logs[service].n; seq++) if (logs[service].sent[seq]) expected.push(seq);
          // Strictly increasing (so at most once) and complete.
          expect(seqs).toEqual(expected);
          expect(pipeline.getCursor()[service]).toBe(logs[service].n);
        }
        expect(
          sink.calls
            .filter((c) => c.kind === 'events')
            .every((c) => c.kind === 'events' && c.seqs.length > 0),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('never delivers out of order or twice even without a final replay', () => {
    fc.assert(
      fc.property(scenarioArb, ({ logs, batches }) => {
        const sink = new RecordingSink();
        const pipeline = new EventPipeline(sink, 4);
        for (const b of batches) {
          pipeline.applyFrame(batchOf(logs, { tasks: b.tasks ?? undefined, crm: b.crm ?? undefined }));
        }
        for (const service of SERVICES) {
          const seqs = sink.seqs(service);
          for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
          for (const seq of seqs) expect(logs[service].sent[seq]).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('EventPipeline on any schema-valid frames (property)', () => {
  // What a buggy or hostile server may send that the reader still accepts:
  // services named like Object.prototype members, seqs at the top of the safe
  // range, events repeated, out of order or outside (after, cursor], batches
  // whose after is beyond their cursor, resets and welcomes naming anything,
  // and entity types and ids that contain the `:` of the dedup key. Each
  // frame goes through parseServerFrame as JSON text, as it arrives.
  const service = fc.constantFrom(
    'tasks',
    'crm',
    'toString',
    'valueOf',
    'hasOwnProperty',
    '__defineGetter__',
  );
  const seq = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 12 }), weight: 6 },
    fc.constantFrom(Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER),
  );
  // (entityType, eventId) pairs, two of which join to the same `a:b:c`.
  const identity = fc.constantFrom<[string, string]>(
    ['task', '1'],
    ['task', '2'],
    ['a:b', 'c'],
    ['a', 'b:c'],
    ['a', 'c'],
  );
  const event = fc
    .record({
      service: fc.oneof({ arbitrary: fc.constant('tasks'), weight: 3 }, service),
      identity,
      withId: fc.boolean(),
      seq: seq.map((s) => Math.max(1, s)),
    })
    .map(({ service, identity: [entityType, eventId], withId, seq }) => ({
      service,
      entityType,
      type: 'x',
      ...(withId && { eventId }),
      seq,
      ts: 1,
      orgId: 'o',
    }));
  const cursor = fc.dictionary(service, seq, { maxKeys: 3 });
  const own = (cursor: Cursor, service: string) =>
    Object.hasOwn(cursor, service) ? cursor[service] : undefined;
  /**
   * A batch as a server would mostly send it: each service's events in seq
   * order, `after` below the first (by `back`, an overlap) and `cursor` at
   * the last (or beyond, `ahead`: seqs filtered out). Or not, `shuffle`d.
   */
  const plausibleBatch = fc
    .record({
      events: fc.array(event, { maxLength: 6 }),
      back: fc.nat(3),
      ahead: fc.nat(2),
      shuffle: fc.boolean(),
    })
    .map(({ events, back, ahead, shuffle }) => {
      const sorted = shuffle ? events : [...events].sort((a, b) => a.seq - b.seq);
      const after: Cursor = {};
      const upTo: Cursor = {};
      for (const { service, seq } of sorted) {
        if (!Object.hasOwn(after, service)) after[service] = Math.max(0, seq - 1 - back);
        upTo[service] = Math.max(own(upTo, service) ?? 0, Math.min(Number.MAX_SAFE_INTEGER, seq + ahead));
      }
      return { type: 'batch' as const, events: sorted, after, cursor: upTo };
    });
  const step = fc.oneof(
    { arbitrary: plausibleBatch, weight: 6 },
    {
      arbitrary: fc.record({
        type: fc.constant('batch' as const),
        events: fc.array(event, { maxLength: 6 }),
        after: cursor,
        cursor,
      }),
      weight: 3,
    },
    fc.record({
      type: fc.constant('reset' as const),
      services: fc.array(service, { maxLength: 2 }),
      cursor,
      reason: fc.constant('r'),
    }),
    fc.record({
      type: fc.constant('welcome' as const),
      connectionId: fc.constant('c'),
      serverTime: fc.constant(1),
      heartbeatMs: fc.constant(1),
      cursor,
    }),
    fc.record({ type: fc.constant('services' as const), services: fc.array(service, { maxLength: 3 }) }),
  );

  const keyOf = (event: RealtimeEvent) => JSON.stringify([event.entityType, event.eventId]);

  it('applies the rules of PROTOCOL.md "Gaps and replay" exactly, service by service', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const sink = new RecordingSink();
        const pipeline = new EventPipeline(sink, 64);
        // The model: the keys delivered per service since its last reset, and who is subscribed.
        const delivered = new Map<string, Set<string>>();
        let subscribed: Set<string> | null = null;
        for (const step of steps) {
          if (step.type === 'services') {
            pipeline.setServices(step.services, {});
            subscribed = new Set(step.services);
            continue;
          }
          const parsed = parseServerFrame(JSON.stringify(step));
          if (!parsed.ok) throw new Error(`a valid frame was refused: ${JSON.stringify(step)}`);
          const frame = parsed.frame;
          const before = pipeline.getCursor();
          sink.clear();
          pipeline.applyFrame(frame);
          const now = pipeline.getCursor();
          expect(Object.getPrototypeOf(now)).toBe(Object.prototype);
          if (frame.type === 'reset') {
            for (const name of frame.services) delivered.delete(name);
            const { services, cursor, reason } = frame;
            expect(sink.calls).toEqual([{ kind: 'resync', reset: { services, cursor, reason } }]);
            continue;
          }
          // No cursor moves back but by a reset.
          for (const name of Object.keys(before)) expect(now[name]).toBeGreaterThanOrEqual(before[name]!);
          if (frame.type !== 'batch') continue;
          const groups = new Map<string, RealtimeEvent[]>();
          for (const e of frame.events) groups.set(e.service, [...(groups.get(e.service) ?? []), e]);
          for (const name of Object.keys(frame.after)) if (!groups.has(name)) groups.set(name, []);
          for (const [name, events] of groups) {
            const got = (sink.delivered.get(name) ?? []).map((e) => e.seq);
            const gaps = sink.gaps().filter((gap) => gap.service === name);
            const after = own(frame.after, name);
            const upTo = own(frame.cursor, name);
            if (
              subscribed?.has(name) === false ||
              after === undefined ||
              upTo === undefined ||
              after > upTo
            ) {
              expect([name, got, gaps]).toEqual([name, [], []]);
              expect(own(now, name)).toBe(own(before, name));
              continue;
            }
            const known = own(before, name) ?? after;
            if (after > known) {
              // A gap, reported once, and nothing of the service applied.
              expect([name, got, gaps]).toEqual([name, [], [{ service: name, cursor: known, after }]]);
              expect(own(now, name)).toBe(known);
              continue;
            }
            expect(gaps).toEqual([]);
            // Delivered: exactly the events in order within (after, upTo],
            // above the cursor, whose key this epoch has not delivered yet.
            const seen = delivered.get(name) ?? new Set<string>();
            const expected: number[] = [];
            let last = after;
            for (const e of events) {
              if (!(e.seq > last && e.seq <= upTo)) continue;
              last = e.seq;
              if (e.seq <= known) continue;
              // Without an eventId the seq alone decides (the key would be `service:seq:<seq>`).
              if (e.eventId !== undefined) {
                if (seen.has(keyOf(e))) continue;
                seen.add(keyOf(e));
              }
              expected.push(e.seq);
            }
            delivered.set(name, seen);
            expect([name, got]).toEqual([name, expected]);
            expect(own(now, name)).toBe(Math.max(known, upTo));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
