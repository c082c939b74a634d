import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { readPollResponse, readUpdateServicesResponse } from '../../../src/protocol/frame-reader';
import { parseServerFrame } from '../../../src/protocol/parse';
import {
  pollResponseSchema,
  serverFrameSchema,
  updateServicesResponseSchema,
} from '../../../src/protocol/schemas';
import { isFrameType, readServerFrame } from '../../../src/protocol/server-frame-reader';
import {
  expectExplored,
  expectSameAsZod,
  itAgreesOnAnyValue,
  jsonText,
  type Outcome,
  weird as weirdValues,
  withOwnProtoKeys,
} from '../differential';

// The frame readers are hand-written copies of the zod schemas, so they are
// tested against zod itself, as batch-reader.test.ts does: on any input the
// reader accepts exactly when zod accepts, and then returns a strictly equal
// value with the same keys in the same order. The inputs are mostly-valid
// values with one thing changed, so both sides of the boundary are explored.

const FRAME_TYPES = ['welcome', 'batch', 'heartbeat', 'reset', 'error'] as const;

const weird = weirdValues(...FRAME_TYPES);

const serviceName = fc.constantFrom('tasks', 'finance', 'a.b:c-d_1', 'x'.repeat(100), 'toString', '0', '12');

const cursorArb = fc.oneof(
  { arbitrary: fc.dictionary(serviceName, fc.maxSafeNat(), { maxKeys: 3 }), weight: 5 },
  fc.dictionary(
    fc.oneof(serviceName, fc.constantFrom('constructor', 'prototype', 'a b', '')),
    fc.oneof(fc.nat(), weird),
    {
      maxKeys: 3,
    },
  ),
  weird,
);

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });

const validEvent = fc.record(
  {
    service: serviceName,
    entityType: fc.string(),
    type: fc.string(),
    eventId: fc.option(fc.string(), { nil: undefined }),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    ts: finite,
    orgId: fc.string(),
    propertyId: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
    data: fc.jsonValue(),
  },
  { requiredKeys: ['service', 'entityType', 'type', 'seq', 'ts', 'orgId'] },
);

/** A valid frame of each type (before its mutations); optional keys sometimes absent, sometimes undefined. */
const validFrames = {
  welcome: fc.record({
    type: fc.constant('welcome'),
    connectionId: fc.oneof(fc.string({ minLength: 1 }), fc.constant('')),
    serverTime: finite,
    heartbeatMs: fc.oneof(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, -0, 1.5)),
    cursor: cursorArb,
  }),
  batch: fc.record({
    type: fc.constant('batch'),
    events: fc.array(validEvent, { maxLength: 3 }),
    after: cursorArb,
    cursor: cursorArb,
  }),
  heartbeat: fc.record({ type: fc.constant('heartbeat'), serverTime: finite }),
  reset: fc.record({
    type: fc.constant('reset'),
    services: fc.oneof(
      { arbitrary: fc.array(serviceName, { maxLength: 3 }), weight: 4 },
      fc.array(fc.oneof(serviceName, weird), { maxLength: 3 }),
      fc.sparseArray(serviceName, { maxLength: 3 }),
    ),
    cursor: cursorArb,
    reason: fc.string(),
  }),
  error: fc.record(
    {
      type: fc.constant('error'),
      code: fc.oneof(fc.constantFrom('unauthorized', 'forbidden', 'bad_request', 'overloaded'), fc.string()),
      message: fc.string(),
      retryAfterMs: fc.oneof(
        fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(undefined, -0, -1, Number.POSITIVE_INFINITY),
      ),
    },
    { requiredKeys: ['type', 'code', 'message'] },
  ),
};

const frameKeys = [
  'type',
  'connectionId',
  'serverTime',
  'heartbeatMs',
  'cursor',
  'events',
  'after',
  'services',
  'reason',
  'code',
  'message',
  'retryAfterMs',
  'frames',
  'extra',
];

/**
 * One change that may (or may not) make an object invalid: set a key to an
 * odd value, or delete it. `key: null` picks one of the object's own keys, so
 * frames with few fields (heartbeat) get broken as often as the others.
 */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constantFrom('set' as const, 'delete' as const),
    key: fc.option(fc.constantFrom(...frameKeys), { freq: 2 }),
    pick: fc.nat(),
    value: weird,
  }),
  // Assigning __proto__ replaces the prototype: fields may then be inherited, or the object have none.
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.constant('__proto__'),
    pick: fc.constant(0),
    value: fc.constantFrom<unknown>(null, { serverTime: 1 }, { type: 'heartbeat', serverTime: 2 }, []),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(target: Record<string, unknown>, changes: Mutation[]): Record<string, unknown> {
  for (const change of changes) {
    const own = Object.keys(target);
    const key = change.key ?? own[change.pick % own.length] ?? 'extra';
    if (change.kind === 'delete') delete target[key];
    else target[key] = change.value;
  }
  return target;
}

const mutated = (arb: fc.Arbitrary<object>): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(arb, fc.array(mutation, { minLength: 1, maxLength: 2 }), fc.boolean())
    // Half the values are left as they are, so plenty of them are valid.
    .map(([value, changes, keep]) => mutate({ ...value }, keep ? [] : changes));

const frameArb = fc.oneof(...Object.values(validFrames).map((arb) => mutated(arb)));

const sameFrame = (input: unknown) => expectSameAsZod(readServerFrame, serverFrameSchema, input);

/**
 * Runs `same` on each value as an object, after a JSON round trip and with
 * own `__proto__` keys; counts the outcomes of the object form.
 */
function inEveryForm(arb: fc.Arbitrary<unknown>, same: (input: unknown) => Outcome): Record<Outcome, number> {
  const seen = { accepted: 0, declined: 0 };
  fc.assert(
    fc.property(arb, (value) => {
      seen[same(value)]++;
      for (const text of [jsonText(value), withOwnProtoKeys(value, { polluted: 1 })]) {
        if (text !== undefined) same(JSON.parse(text));
      }
    }),
    { numRuns: 1500 },
  );
  return seen;
}

afterEach(() => {
  const proto = Object.prototype as Record<string, unknown>;
  const polluted = proto.polluted;
  delete proto.polluted;
  expect(polluted).toBeUndefined();
});

describe('readServerFrame agrees with serverFrameSchema', () => {
  it('on mostly-valid frames of every type, as objects (property)', () => {
    const seen = new Map<string, { accepted: number; declined: number }>();
    fc.assert(
      fc.property(frameArb, (frame) => {
        const outcome = sameFrame(frame);
        const type = typeof frame.type === 'string' ? frame.type : 'other';
        const counts = seen.get(type) ?? { accepted: 0, declined: 0 };
        counts[outcome]++;
        seen.set(type, counts);
      }),
      { numRuns: 4000 },
    );
    // Both sides of the boundary were really explored, for every frame type.
    // The rarest side (a refused heartbeat) averages about 58 of 4000 runs;
    // 20 keeps the check meaningful without making it a coin toss.
    for (const type of FRAME_TYPES) {
      expect(seen.get(type)?.accepted, type).toBeGreaterThan(20);
      expect(seen.get(type)?.declined, type).toBeGreaterThan(20);
    }
  });

  it('on the same frames after a JSON round trip (property)', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const text = jsonText(frame);
        if (text !== undefined) sameFrame(JSON.parse(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('with own __proto__ keys, which only JSON.parse can make (property)', () => {
    fc.assert(
      fc.property(
        frameArb,
        fc.constantFrom<unknown>({ polluted: 1 }, { type: 'heartbeat', serverTime: 1 }, null, 5, 'x', []),
        (frame, proto) => {
          const text = withOwnProtoKeys(frame, proto);
          if (text === undefined) return; // BigInt and friends: not a JSON input
          const result = readServerFrame(JSON.parse(text));
          if (sameFrame(JSON.parse(text)) === 'accepted') {
            const frameOut = result as unknown as Record<string, unknown>;
            expect(Object.hasOwn(frameOut, '__proto__')).toBe(false);
            for (const key of ['cursor', 'after']) {
              if (key in frameOut) {
                expect(Object.getPrototypeOf(frameOut[key])).toBe(Object.prototype);
                expect(Object.hasOwn(frameOut[key] as object, '__proto__')).toBe(false);
              }
            }
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
  });

  itAgreesOnAnyValue(weird, sameFrame, 1000);

  it('on a frame of every type with any value in any field (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FRAME_TYPES),
        fc.dictionary(fc.constantFrom(...frameKeys), weird, { maxKeys: 5 }),
        (type, fields) => {
          sameFrame({ ...fields, type });
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('on hand-picked edge cases: numbers, strings, absent and undefined optional keys', () => {
    const welcome = { type: 'welcome', connectionId: 'c1', serverTime: 1, heartbeatMs: 15_000, cursor: {} };
    const error = { type: 'error', code: 'overloaded', message: 'busy' };
    const reset = { type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'expired' };
    const cases: Array<[unknown, 'accepted' | 'declined']> = [
      [welcome, 'accepted'],
      [{ ...welcome, connectionId: '' }, 'declined'],
      [{ ...welcome, connectionId: '\ud800' }, 'accepted'],
      [{ ...welcome, connectionId: '😀' }, 'accepted'],
      [{ ...welcome, heartbeatMs: 0 }, 'declined'],
      [{ ...welcome, heartbeatMs: -0 }, 'declined'],
      [{ ...welcome, heartbeatMs: 1.5 }, 'declined'],
      [{ ...welcome, heartbeatMs: 2 ** 53 }, 'declined'],
      [{ ...welcome, heartbeatMs: 2 ** 53 - 1 }, 'accepted'],
      [{ ...welcome, serverTime: Number.NaN }, 'declined'],
      [{ ...welcome, serverTime: Number.POSITIVE_INFINITY }, 'declined'],
      [{ ...welcome, serverTime: -0 }, 'accepted'],
      [{ ...welcome, serverTime: '1' }, 'declined'],
      [{ ...welcome, cursor: { tasks: -0 } }, 'accepted'],
      [{ ...welcome, cursor: { tasks: 1.5 } }, 'declined'],
      [{ ...welcome, cursor: [] }, 'declined'],
      [{ ...welcome, cursor: Object.assign(Object.create(null), { tasks: 1 }) }, 'accepted'],
      [{ ...welcome, extra: { a: 1 } }, 'accepted'],
      [error, 'accepted'],
      [{ ...error, retryAfterMs: undefined }, 'accepted'],
      [{ ...error, retryAfterMs: -0 }, 'accepted'],
      [{ ...error, retryAfterMs: 0.5 }, 'accepted'],
      [{ ...error, retryAfterMs: -1 }, 'declined'],
      [{ ...error, retryAfterMs: null }, 'declined'],
      [{ ...error, retryAfterMs: Number.POSITIVE_INFINITY }, 'declined'],
      [{ ...error, code: 'from_a_newer_server' }, 'accepted'],
      [{ ...error, code: 1 }, 'declined'],
      [reset, 'accepted'],
      [{ ...reset, services: [] }, 'accepted'],
      // biome-ignore lint/suspicious/noSparseArray: a hole is the point
      [{ ...reset, services: [, 'tasks'] }, 'declined'],
      [{ ...reset, services: ['tasks', '__proto__'] }, 'declined'],
      [{ ...reset, services: 'tasks' }, 'declined'],
      [{ ...reset, services: Object.assign(['tasks'], { extra: 1 }) }, 'accepted'],
      [{ type: 'heartbeat', serverTime: 1e308 }, 'accepted'],
      [{ type: 'heartbeat' }, 'declined'],
      [{ type: 'heartbeat', serverTime: undefined }, 'declined'],
      [{ type: 'nope', serverTime: 1 }, 'declined'],
      [{ type: 'toString', serverTime: 1 }, 'declined'],
      [{ type: '__proto__', serverTime: 1 }, 'declined'],
      [{ type: ['heartbeat'], serverTime: 1 }, 'declined'],
      [{ serverTime: 1 }, 'declined'],
      [['heartbeat'], 'declined'],
      [Object.assign(['x'], { type: 'heartbeat', serverTime: 1 }), 'declined'],
      ['{"type":"heartbeat","serverTime":1}', 'declined'],
      [new Map([['type', 'heartbeat']]), 'declined'],
      [null, 'declined'],
    ];
    for (const [input, expected] of cases) expect([input, sameFrame(input)]).toEqual([input, expected]);
  });

  it('keeps a present undefined optional key, as zod does, and leaves an absent one out', () => {
    const present = readServerFrame({ type: 'error', code: 'c', message: 'm', retryAfterMs: undefined });
    expect(present).toStrictEqual({ type: 'error', code: 'c', message: 'm', retryAfterMs: undefined });
    expect(Object.keys(present ?? {})).toEqual(['type', 'code', 'message', 'retryAfterMs']);
    const absent = readServerFrame({ type: 'error', code: 'c', message: 'm' });
    expect(Object.keys(absent ?? {})).toEqual(['type', 'code', 'message']);
  });

  it('strips unknown keys and builds keys in the schema order', () => {
    const frame = readServerFrame({
      cursor: { tasks: 1 },
      heartbeatMs: 5,
      secret: 'x',
      serverTime: 2,
      connectionId: 'c',
      type: 'welcome',
    });
    expect(Object.keys(frame ?? {})).toEqual(['type', 'connectionId', 'serverTime', 'heartbeatMs', 'cursor']);
  });

  it('on objects JSON cannot make: class instances, inherited fields, null prototypes, symbols', () => {
    class Heartbeat {
      type = 'heartbeat';
      serverTime = 1;
    }
    class Proto {
      get type() {
        return 'heartbeat';
      }
      get serverTime() {
        return 3;
      }
    }
    class CustomCursor {
      tasks = 1;
    }
    const hidden = { tasks: 1 };
    Object.defineProperty(hidden, 'finance', { value: -5, enumerable: false });
    const welcome = { type: 'welcome', connectionId: 'c', serverTime: 1, heartbeatMs: 1 };
    const inputs: unknown[] = [
      new Heartbeat(),
      new Proto(),
      Object.create({ type: 'heartbeat', serverTime: 2 }),
      Object.assign(Object.create(null), { type: 'heartbeat', serverTime: 2 }),
      Object.assign(Object.create({ retryAfterMs: 5 }), { type: 'error', code: 'c', message: 'm' }),
      Object.assign(Object.create({ retryAfterMs: -5 }), { type: 'error', code: 'c', message: 'm' }),
      { ...welcome, cursor: new CustomCursor() },
      { ...welcome, cursor: hidden },
      { ...welcome, cursor: { [Symbol('s')]: 1 } },
      { ...welcome, cursor: new Map([['tasks', 1]]) },
      { ...welcome, cursor: Object.create({ tasks: 1 }) },
      { type: 'heartbeat', serverTime: new Number(1) },
      { type: new String('heartbeat'), serverTime: 1 },
      { type: 'reset', services: new (class extends Array {})(), cursor: {}, reason: 'r' },
      { [Symbol('type')]: 'heartbeat', type: 'heartbeat', serverTime: 1 },
    ];
    const outcomes = inputs.map(sameFrame);
    expect(outcomes).toContain('accepted');
    expect(outcomes).toContain('declined');
  });

  it('treats a Proxy like zod, asking `in` for presence (has) and reading with get', () => {
    const heartbeat = { type: 'heartbeat', serverTime: 1 };
    const error = { type: 'error', code: 'c', message: 'm', retryAfterMs: 1 };
    const hiding = (target: object, hidden: string) =>
      new Proxy(target, { has: (object, key) => key !== hidden && key in object });
    for (const input of [
      new Proxy(heartbeat, {}),
      hiding(heartbeat, 'serverTime'),
      hiding(error, 'retryAfterMs'),
      new Proxy([], { get: (_target, key) => (key === 'type' ? 'heartbeat' : 1) }),
    ]) {
      sameFrame(input);
    }
  });

  it('throws where zod does (throwing getters and revoked proxies, at any depth); parseServerFrame never does', () => {
    const boom = new Error('boom');
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = (frame: object, key: string) =>
      Object.defineProperty({ ...frame }, key, {
        enumerable: true,
        get() {
          throw boom;
        },
      });
    const welcome = { type: 'welcome', connectionId: 'c', serverTime: 1, heartbeatMs: 1, cursor: {} };
    const inputs: unknown[] = [
      revoked,
      throwing(welcome, 'type'),
      throwing(welcome, 'heartbeatMs'),
      throwing({ type: 'error', code: 'c', message: 'm' }, 'retryAfterMs'),
      { ...welcome, cursor: throwing({}, 'tasks') },
      { ...welcome, cursor: revoked },
      { type: 'reset', services: revoked, cursor: {}, reason: 'r' },
      { type: 'batch', events: [revoked], after: {}, cursor: {} },
      new Proxy(welcome, {
        has() {
          throw boom;
        },
      }),
    ];
    for (const input of inputs) {
      expect(() => serverFrameSchema.safeParse(input)).toThrow();
      expect(() => readServerFrame(input)).toThrow();
      const parsed = parseServerFrame(input);
      expect(parsed).toMatchObject({ ok: false, reason: 'invalid' });
      if (!parsed.ok) expect(typeof parsed.detail).toBe('string');
    }
    expect(parseServerFrame(throwing(welcome, 'heartbeatMs'))).toEqual({
      ok: false,
      reason: 'invalid',
      detail: 'boom',
    });
  });

  it('isFrameType knows exactly the frame types of the schema', () => {
    for (const type of FRAME_TYPES) expect(isFrameType(type)).toBe(true);
    for (const type of ['hello', 'toString', '__proto__', 'constructor', '', ['batch'], undefined, 1]) {
      expect(isFrameType(type)).toBe(false);
    }
  });
});

describe('readUpdateServicesResponse agrees with updateServicesResponseSchema', () => {
  const answerArb = fc.oneof(
    mutated(fc.record({ cursor: cursorArb })),
    mutated(fc.record({ cursor: fc.dictionary(serviceName, fc.maxSafeNat(), { maxKeys: 3 }) })),
    weird,
  );
  const same = (input: unknown) =>
    expectSameAsZod(readUpdateServicesResponse, updateServicesResponseSchema, input);

  it('on mostly-valid answers, as objects, as JSON and with own __proto__ keys (property)', () => {
    expectExplored(inEveryForm(answerArb, same), 200);
  });

  it('on edge cases', () => {
    const cases: Array<[unknown, 'accepted' | 'declined']> = [
      [{ cursor: {} }, 'accepted'],
      [{ cursor: { tasks: 3 }, extra: 1 }, 'accepted'],
      [JSON.parse('{"cursor":{"__proto__":{"tasks":1},"finance":2}}'), 'accepted'],
      [JSON.parse('{"__proto__":{"cursor":{}}}'), 'declined'],
      [Object.create({ cursor: { tasks: 1 } }), 'accepted'],
      [JSON.parse('{"cursor":{"tasks":9007199254740993}}'), 'declined'],
      [{ cursor: { tasks: 2 ** 53 } }, 'declined'],
      [{ cursor: { tasks: Number.NaN } }, 'declined'],
      [{ cursor: null }, 'declined'],
      [{ cursor: undefined }, 'declined'],
      [{}, 'declined'],
      [[{ cursor: {} }], 'declined'],
      [null, 'declined'],
    ];
    for (const [input, expected] of cases) expect([input, same(input)]).toEqual([input, expected]);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(readUpdateServicesResponse(proxy)).toBeUndefined();
    expect(readUpdateServicesResponse({ cursor: proxy })).toBeUndefined();
  });
});

describe('readPollResponse agrees with pollResponseSchema', () => {
  const framesArb = fc.oneof(
    { arbitrary: fc.array(frameArb, { maxLength: 3 }), weight: 3 },
    fc.array(weird, { maxLength: 3 }),
    fc.sparseArray(fc.anything(), { maxLength: 4 }),
    weird,
  );
  const answerArb = fc.oneof(mutated(fc.record({ frames: framesArb })), weird);
  const same = (input: unknown) => expectSameAsZod(readPollResponse, pollResponseSchema, input);

  it('on mostly-valid answers, as objects, as JSON and with own __proto__ keys (property)', () => {
    expectExplored(inEveryForm(answerArb, same), 200);
  });

  it('copies the frames as zod does: same items, holes become undefined, array extras dropped', () => {
    const frame = { type: 'heartbeat', serverTime: 1 };
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    const sparse = [frame, , 2];
    const answer = readPollResponse({ frames: Object.assign(sparse, { extra: 1 }), more: true });
    expect(answer).toStrictEqual({ frames: [frame, undefined, 2] });
    expect(answer?.frames[0]).toBe(frame);
    expect(answer?.frames).not.toBe(sparse);
    expect(1 in (answer?.frames ?? [])).toBe(true);
    const cases: Array<[unknown, 'accepted' | 'declined']> = [
      [{ frames: [] }, 'accepted'],
      [{ frames: sparse }, 'accepted'],
      [{ frames: new (class extends Array {})() }, 'accepted'],
      [{ frames: { 0: frame, length: 1 } }, 'declined'],
      [{ frames: 'x' }, 'declined'],
      [{ items: [] }, 'declined'],
      [JSON.parse('{"__proto__":{"frames":[]}}'), 'declined'],
      [Object.create({ frames: [1] }), 'accepted'],
      [[], 'declined'],
    ];
    for (const [input, expected] of cases) expect([input, same(input)]).toEqual([input, expected]);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(readPollResponse(proxy)).toBeUndefined();
    expect(readPollResponse({ frames: proxy })).toBeUndefined();
  });
});
