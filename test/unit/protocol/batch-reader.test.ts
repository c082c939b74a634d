import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBatchFrame } from '../../../src/protocol/batch-reader';
import { serverFrameSchema } from '../../../src/protocol/schemas';
import { readServerFrame } from '../../../src/protocol/server-frame-reader';
import {
  expectExplored,
  itAgreesOnAnyValue,
  jsonText,
  shapeOf,
  weird as weirdValues,
  withOwnProtoKeys,
} from '../differential';

// The batch reader is a hand-specialised copy of the zod schema, so it is
// tested against zod itself: on any input, either it declines (undefined) or
// it returns exactly what zod returns; and it never declines a batch that zod
// accepts. The inputs are mostly-valid batches with one thing broken, so both
// sides of the boundary are explored.

const weird = weirdValues();

const serviceName = fc.constantFrom('tasks', 'finance', 'a.b:c-d_1', 'x'.repeat(100), 'toString', '0', '12');

const validEvent = fc.record(
  {
    service: serviceName,
    entityType: fc.string(),
    type: fc.string(),
    eventId: fc.option(fc.string(), { nil: undefined }),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    ts: fc.double({ noNaN: true, noDefaultInfinity: true }),
    orgId: fc.string(),
    propertyId: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
    mutationId: fc.option(fc.string(), { nil: undefined }),
    data: fc.jsonValue(),
  },
  // Every optional key is sometimes absent, sometimes present.
  { requiredKeys: ['service', 'entityType', 'type', 'seq', 'ts', 'orgId'] },
);

const eventKeys = [
  'service',
  'entityType',
  'type',
  'eventId',
  'seq',
  'ts',
  'orgId',
  'propertyId',
  'mutationId',
  'data',
];

/** One change that may (or may not) make an object invalid: set a key to an odd value, delete it, or add one. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.constantFrom(...eventKeys, 'type', 'extra'),
    value: weird,
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    key: fc.constantFrom(...eventKeys, 'events', 'after', 'cursor'),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(target: Record<string, unknown>, change: Mutation | null): void {
  if (change === null) return;
  if (change.kind === 'delete') delete target[change.key];
  else target[change.key] = change.value;
}

const cursorArb = fc.dictionary(
  fc.oneof(serviceName, fc.constantFrom('constructor', 'a b', '')),
  fc.oneof(fc.nat(), weird),
  {
    maxKeys: 3,
  },
);

const batchArb = fc
  .record({
    events: fc.array(fc.record({ event: validEvent, change: fc.option(mutation, { freq: 4 }) }), {
      maxLength: 4,
    }),
    after: fc.oneof(
      { arbitrary: fc.dictionary(serviceName, fc.nat(), { maxKeys: 3 }), weight: 4 },
      cursorArb,
      weird,
    ),
    cursor: fc.oneof(
      { arbitrary: fc.dictionary(serviceName, fc.nat(), { maxKeys: 3 }), weight: 4 },
      cursorArb,
      weird,
    ),
    frameChange: fc.option(mutation, { freq: 4 }),
  })
  .map(({ events, after, cursor, frameChange }) => {
    const frame: Record<string, unknown> = {
      type: 'batch',
      events: events.map(({ event, change }) => {
        const copy: Record<string, unknown> = { ...event };
        mutate(copy, change);
        return copy;
      }),
      after,
      cursor,
    };
    mutate(frame, frameChange);
    return frame;
  });

function expectSameAsZod(input: unknown): 'accepted' | 'declined' {
  // readBatchFrame reads only what readServerFrame found to be an object of
  // type `batch`: any input reaches it through readServerFrame.
  const fast = readServerFrame(input);
  const zod = serverFrameSchema.safeParse(input);
  if (fast !== undefined) {
    expect(zod.success).toBe(true);
    expect(fast).toStrictEqual(zod.data);
    expect(shapeOf(fast)).toEqual(shapeOf(zod.data));
    return 'accepted';
  }
  if (zod.success) expect(zod.data.type).not.toBe('batch');
  return 'declined';
}

describe('readBatchFrame agrees with the zod schema', () => {
  it('on mostly-valid batches, as objects (property)', () => {
    const seen = { accepted: 0, declined: 0 };
    fc.assert(
      fc.property(batchArb, (frame) => {
        seen[expectSameAsZod(frame)]++;
      }),
      { numRuns: 2000 },
    );
    expectExplored(seen, 200);
  });

  it('on the same batches after a JSON round trip (property)', () => {
    fc.assert(
      fc.property(batchArb, (frame) => {
        const text = jsonText(frame);
        if (text === undefined) return; // BigInt and friends: not a JSON input
        expectSameAsZod(JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('with own __proto__ keys, which only JSON.parse can make (property)', () => {
    fc.assert(
      fc.property(batchArb, fc.constantFrom<unknown>({ polluted: 1 }, null, 5, 'x', []), (frame, proto) => {
        const text = withOwnProtoKeys(frame, proto);
        if (text === undefined) return; // BigInt and friends: not a JSON input
        expect(text).toContain('{"__proto__":');
        expectSameAsZod(JSON.parse(text));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  itAgreesOnAnyValue(weird, expectSameAsZod);

  it('on objects JSON cannot make: symbols, non-plain records, holes, inherited fields', () => {
    const event = { service: 'tasks', entityType: 't', type: 'x', seq: 1, ts: 1, orgId: 'o' };
    class Custom {
      tasks = 1;
    }
    const inheritedEvent = Object.create({ eventId: 'inherited' }) as Record<string, unknown>;
    Object.assign(inheritedEvent, event);
    const hidden = { tasks: 1 };
    Object.defineProperty(hidden, 'finance', { value: -5, enumerable: false });
    const inputs: unknown[] = [
      { type: 'batch', events: [event], after: { [Symbol('s')]: 1 }, cursor: {} },
      { type: 'batch', events: [event], after: new Custom(), cursor: {} },
      { type: 'batch', events: [event], after: Object.create(null), cursor: { tasks: 1 } },
      { type: 'batch', events: [event], after: new Map(), cursor: {} },
      { type: 'batch', events: [event], after: hidden, cursor: { tasks: 1 } },
      // biome-ignore lint/suspicious/noSparseArray: a hole is the point
      { type: 'batch', events: [event, , event], after: {}, cursor: {} },
      { type: 'batch', events: [inheritedEvent], after: { tasks: 0 }, cursor: { tasks: 1 } },
      { type: 'batch', events: [{ ...event, data: undefined, eventId: undefined }], after: {}, cursor: {} },
      Object.assign(Object.create({ type: 'batch' }), { events: [], after: {}, cursor: {} }),
      { type: 'batch', events: Object.assign([event], { extra: 1 }), after: {}, cursor: {} },
    ];
    const outcomes = inputs.map(expectSameAsZod);
    expect(outcomes).toContain('accepted');
    expect(outcomes).toContain('declined');
  });

  it('strips unknown keys of events and frames, as zod does', () => {
    const frame = readBatchFrame({
      type: 'batch',
      extra: 1,
      events: [{ service: 'tasks', entityType: 't', type: 'x', seq: 1, ts: 1, orgId: 'o', secret: 'x' }],
      after: { tasks: 0 },
      cursor: { tasks: 1 },
    });
    expect(frame).toStrictEqual({
      type: 'batch',
      events: [{ service: 'tasks', entityType: 't', type: 'x', seq: 1, ts: 1, orgId: 'o' }],
      after: { tasks: 0 },
      cursor: { tasks: 1 },
    });
  });
});
