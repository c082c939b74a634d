import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventPipeline } from '../../../src/pipeline/event-pipeline';
import type { BatchFrame, RealtimeEvent } from '../../../src/protocol/schemas';
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
          pipeline.applyBatch(frame);
          const now = pipeline.getCursor();
          for (const service of SERVICES) expect(now[service]!).toBeGreaterThanOrEqual(previous[service]!);
          previous = now;
        }

        // The reconnect: the server replays everything from the pipeline's cursor.
        const cursor = pipeline.getCursor();
        pipeline.applyBatch(
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
          pipeline.applyBatch(batchOf(logs, { tasks: b.tasks ?? undefined, crm: b.crm ?? undefined }));
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
