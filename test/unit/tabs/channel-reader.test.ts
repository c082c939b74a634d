import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChannelMessageType, parseChannelMessage } from '../../../src/tabs/channel-messages';
import { channelMessageSchema, leaseSchema } from '../../../src/tabs/channel-schemas';
import { readLease } from '../../../src/tabs/storage-lease-election';
import {
  expectExplored,
  expectSameAsZod,
  itAgreesOnAnyValue,
  jsonText,
  type Outcome,
  weird as weirdValues,
  withOwnProtoKeys,
} from '../differential';

// The cross-tab readers (parseChannelMessage, readLease) are hand-written
// copies of the zod schemas of channel-schemas.ts, which stay the definition
// but are kept out of the browser bundle. So they are tested against zod
// itself: on any input, the reader accepts exactly when zod accepts (a zod
// throw counts as a refusal), and then returns a strictly equal value with
// the same keys in the same order. The inputs are mostly-valid messages with
// one or two things broken, so both sides of the boundary are explored.

// ---- the differential --------------------------------------------------

const expectSameMessage = (input: unknown): Outcome =>
  expectSameAsZod(parseChannelMessage, channelMessageSchema, input);

const expectSameLease = (input: unknown): Outcome => expectSameAsZod(readLease, leaseSchema, input);

/** The value of JSON text, `undefined` for no text. */
const parsed = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

// ---- arbitraries -------------------------------------------------------

const weird = weirdValues();

/**
 * Characters that make UTF-16 units and code points differ: zod's
 * `maxLength` counts code points (a pair once, a lone surrogate as one).
 */
const tricky = fc.constantFrom('x', '😀', '\uD83D', '\uDE00');

/** Strings of `tricky` characters around a bound of `max` code points. */
const aroundBound = (max: number) =>
  fc.string({ unit: tricky, minLength: max - 3, maxLength: max + 3 }).map((s) => s.slice(0, 2 * max + 4));

/** Valid and invalid tab ids, around both bounds. */
const tabId = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 40 }), weight: 6 },
  aroundBound(128),
  fc.constantFrom(
    'tab-a',
    'x'.repeat(128),
    '😀'.repeat(128), // 128 code points in 256 units: valid
    `${'x'.repeat(127)}😀`, // 128 code points in 129 units: valid
    '\uDE00\uD83D'.repeat(64), // reversed halves: 128 lone surrogates, valid
    '',
    'x'.repeat(129),
    '😀'.repeat(129),
    '\uD83D'.repeat(129),
  ),
);

const serviceName = fc.constantFrom(
  'tasks',
  'crm',
  'a.b:c-d_1',
  'x'.repeat(100),
  'toString',
  '0',
  // invalid ones
  '__proto__',
  'constructor',
  'a b',
  '',
  'x'.repeat(101),
);
const validServiceName = fc.constantFrom('tasks', 'crm', 'a.b:c-d_1', 'x'.repeat(100), 'toString', '0');

/**
 * Property filters, valid and not: `null`, any string, and strings of
 * `tricky` characters and commas, short and over 100 code points (a lone
 * surrogate or a comma makes one invalid; the length never does).
 */
const propertyFilter = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 20 }), weight: 4 },
  fc.constant(null),
  fc.string({ unit: fc.constantFrom('p', '😀', '\uD83D', '\uDE00', ','), maxLength: 4 }),
  fc.string({ unit: fc.constantFrom('p', '😀'), minLength: 97, maxLength: 103 }),
  fc.constantFrom('', ',', 'a,b', '\uD800', 'p\uDFFF', '\uDE00\uD83D', 'x'.repeat(100), 'x'.repeat(101)),
);

const cursor = fc.oneof(
  { arbitrary: fc.dictionary(validServiceName, fc.nat(), { maxKeys: 3 }), weight: 4 },
  fc.dictionary(serviceName, fc.oneof(fc.nat(), weird), { maxKeys: 3 }),
);

const flagName = fc.constantFrom(
  'enabled',
  'emergencyDisable',
  'disabledOrgs',
  'rolloutPercent',
  'shadowMode',
  'disabledServices',
);

const optionalString = fc.option(fc.string(), { nil: undefined });
const optionalNumber = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined });

const STATUSES = ['idle', 'connecting', 'connected', 'reconnecting', 'disabled', 'closed'] as const;
const TYPES: readonly ChannelMessageType[] = [
  'hello',
  'needs',
  'bye',
  'sync',
  'leader',
  'frame',
  'state',
  'flags',
  'cursor',
  'replay',
];

/** Any subset of the flags, each sometimes `undefined`; `service`: the items of disabledServices. */
const flagsArb = (service: fc.Arbitrary<string>) =>
  fc.record(
    {
      enabled: fc.option(fc.boolean(), { nil: undefined }),
      emergencyDisable: fc.option(fc.boolean(), { nil: undefined }),
      disabledOrgs: fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
      rolloutPercent: fc.option(fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constant(-0)), {
        nil: undefined,
      }),
      shadowMode: fc.option(fc.boolean(), { nil: undefined }),
      disabledServices: fc.option(fc.array(service, { maxLength: 3 }), { nil: undefined }),
    },
    { requiredKeys: [] },
  );

/** The fields after `type`, per type; every optional key sometimes absent, sometimes `undefined`. */
const bodies: Record<ChannelMessageType, fc.Arbitrary<Record<string, unknown>>> = {
  hello: fc.constant({}),
  bye: fc.constant({}),
  sync: fc.constant({}),
  needs: fc.record({
    services: fc.array(fc.oneof({ arbitrary: validServiceName, weight: 8 }, serviceName), { maxLength: 3 }),
    propertyFilter,
  }),
  leader: fc.record({ leaderTabId: tabId }),
  frame: fc.record({
    frame: fc.oneof(
      fc.string(),
      fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
      fc.object({ maxDepth: 2 }),
    ),
    epoch: fc.option(tabId, { nil: undefined }),
  }),
  state: fc.record(
    {
      status: fc.constantFrom(...STATUSES),
      transport: optionalString,
      circuit: fc.record(
        {
          state: fc.constantFrom('closed', 'open', 'half-open'),
          consecutiveFailures: fc.oneof(fc.nat(), fc.constantFrom(Number.MAX_SAFE_INTEGER, -0)),
          openedAt: optionalNumber,
        },
        { requiredKeys: ['state', 'consecutiveFailures'] },
      ),
      lastSuccessAt: optionalNumber,
      connectionId: optionalString,
      disabledReason: optionalString,
      lastError: optionalString,
      serverClockOffsetMs: optionalNumber,
      serverClockOffsetErrorMs: optionalNumber,
      rollback: fc.option(
        fc.record({
          reason: fc.constantFrom('error_rate', 'circuit_open', 'invariant_violation', 'other'),
          detail: fc.oneof(fc.string(), fc.constant(undefined)),
          ms: fc.oneof(fc.nat(), fc.double()),
        }),
        { nil: undefined },
      ),
    },
    { requiredKeys: ['status', 'circuit'] },
  ),
  flags: fc.record(
    {
      flags: flagsArb(validServiceName),
      fromUrl: fc.option(
        fc.array(
          fc.oneof({ arbitrary: flagName, weight: 8 }, fc.constantFrom('toString', '__proto__', '', 1)),
          {
            maxLength: 3,
          },
        ),
        { nil: undefined },
      ),
      // A flags document: any strings in disabledServices.
      document: fc.option(flagsArb(fc.oneof(validServiceName, fc.string())), { nil: undefined }),
    },
    { requiredKeys: ['flags'] },
  ),
  cursor: fc.record(
    {
      cursor,
      epochs: fc.option(
        fc.oneof(
          { arbitrary: fc.dictionary(validServiceName, tabId, { maxKeys: 3 }), weight: 4 },
          fc.dictionary(serviceName, fc.oneof(tabId, weird), { maxKeys: 3 }),
        ),
        { nil: undefined },
      ),
    },
    { requiredKeys: ['cursor'] },
  ),
  replay: fc.record({ cursor }),
};

const envelope = fc.record(
  { v: fc.constant(1), from: tabId, to: fc.option(tabId, { nil: undefined }) },
  { requiredKeys: ['v', 'from'] },
);

const KEYS = [
  'v',
  'from',
  'to',
  'type',
  'services',
  'propertyFilter',
  'leaderTabId',
  'frame',
  'status',
  'transport',
  'circuit',
  'lastSuccessAt',
  'connectionId',
  'disabledReason',
  'lastError',
  'serverClockOffsetMs',
  'serverClockOffsetErrorMs',
  'rollback',
  'flags',
  'fromUrl',
  'document',
  'cursor',
  'epoch',
  'epochs',
  // nested keys
  'state',
  'consecutiveFailures',
  'openedAt',
  'reason',
  'detail',
  'ms',
  'enabled',
  'emergencyDisable',
  'disabledOrgs',
  'rolloutPercent',
  'shadowMode',
  'disabledServices',
  'tasks',
  '0',
  // unknown keys
  'extra',
  '__proto__',
  'constructor',
];

/** A value that is right for some other field: how one message type gets another's fields. */
const plausible = fc.oneof(
  weird,
  tabId,
  fc.constantFrom<unknown>(...TYPES, ...STATUSES, 'open', 'half-open', 'gossip', null, 0, 50, 101, -1),
  fc.array(serviceName, { maxLength: 2 }),
  fc.array(flagName, { maxLength: 2 }),
  fc.dictionary(serviceName, fc.nat(), { maxKeys: 2 }),
);

/**
 * One change that may (or may not) make an object invalid: define a key
 * (an own key, also `__proto__`), delete one, or hand it down from a prototype.
 */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom(...KEYS), value: plausible }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }),
  fc.record({ kind: fc.constant('inherit' as const), key: fc.constantFrom(...KEYS), value: plausible }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(target: unknown, change: Mutation | null): void {
  if (change === null || typeof target !== 'object' || target === null) return;
  const object = target as Record<string, unknown>;
  if (change.kind === 'delete') {
    delete object[change.key];
  } else if (change.kind === 'set') {
    Object.defineProperty(object, change.key, {
      value: change.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    const proto = Object.create(Object.getPrototypeOf(object)) as Record<string, unknown>;
    Object.defineProperty(proto, change.key, { value: change.value, enumerable: true });
    // An inherited key only counts where the object has no own one.
    delete object[change.key];
    Object.setPrototypeOf(object, proto);
  }
}

const NESTED = ['circuit', 'flags', 'fromUrl', 'document', 'frame', 'cursor', 'services'] as const;

const messageArb = fc
  .constantFrom(...TYPES)
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      envelope,
      body: bodies[type],
      change: fc.option(mutation, { freq: 3 }),
      nested: fc.constantFrom(...NESTED),
      nestedChange: fc.option(mutation, { freq: 2 }),
    }),
  )
  .map(({ type, envelope, body, change, nested, nestedChange }) => {
    const message: Record<string, unknown> = { ...envelope, type, ...structuredClone(body) };
    mutate(message[nested], nestedChange);
    mutate(message, change);
    return message;
  });

// ---- channel messages --------------------------------------------------

describe('parseChannelMessage agrees with channelMessageSchema', () => {
  it('on mostly-valid messages of every type, as objects (property)', () => {
    const seen = { accepted: 0, declined: 0 };
    const acceptedTypes = new Set<unknown>();
    fc.assert(
      fc.property(messageArb, (message) => {
        const outcome = expectSameMessage(message);
        seen[outcome]++;
        if (outcome === 'accepted') acceptedTypes.add(message.type);
      }),
      { numRuns: 4000 },
    );
    // Both sides of the boundary were really explored, for every type. The
    // rarer side (declined) averages about 860 of 4000 runs: 400 leaves the
    // check meaningful without making it a coin toss.
    expectExplored(seen, 400);
    expect([...acceptedTypes].sort()).toEqual([...TYPES].sort());
  });

  it('on the same messages after a JSON round trip (property)', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        expectSameMessage(parsed(jsonText(message)));
      }),
      { numRuns: 1500 },
    );
  });

  it('with own __proto__ keys, which only JSON.parse can make (property)', () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.constantFrom<unknown>({ polluted: 1 }, { type: 'hello' }, null, 5, 'x', []),
        (message, proto) => {
          const json = parsed(withOwnProtoKeys(message, proto));
          if (json === undefined) return;
          expect(Object.hasOwn(json as object, '__proto__')).toBe(true);
          expectSameMessage(json);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 800 },
    );
  });

  itAgreesOnAnyValue(weird, expectSameMessage);

  const base = { v: 1, from: 'tab-a' } as const;
  const state = {
    ...base,
    type: 'state',
    status: 'connected',
    circuit: { state: 'closed', consecutiveFailures: 0 },
  };

  function throwing<T extends object>(target: T, key: string): T {
    return Object.defineProperty(target, key, {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
  }

  const hostile: [string, unknown][] = [
    // __proto__ keys from JSON, at every level
    ['a top-level __proto__', JSON.parse('{"__proto__":{"to":"x"},"v":1,"from":"t","type":"hello"}')],
    [
      'a __proto__ flag',
      JSON.parse('{"v":1,"from":"t","type":"flags","flags":{"__proto__":{"enabled":true}}}'),
    ],
    [
      'a __proto__ circuit',
      JSON.parse(
        `{"v":1,"from":"t","type":"state","status":"idle","circuit":{"__proto__":1,"state":"open","consecutiveFailures":1}}`,
      ),
    ],
    [
      'a __proto__ frame key',
      JSON.parse('{"v":1,"from":"t","type":"frame","frame":{"__proto__":{"a":1},"b":2}}'),
    ],
    [
      'a __proto__ cursor key',
      JSON.parse('{"v":1,"from":"t","type":"replay","cursor":{"__proto__":5,"tasks":1}}'),
    ],
    ['a __proto__ type', JSON.parse('{"v":1,"from":"t","type":"__proto__"}')],
    ['a constructor type', { ...base, type: 'constructor' }],
    ['a toString type', { ...base, type: 'toString' }],
    ['a type whose toString says hello', { ...base, type: { toString: () => 'hello' } }],
    // wrong versions
    ['v: 2', { ...base, v: 2, type: 'hello' }],
    ['v: "1"', { ...base, v: '1', type: 'hello' }],
    ['v: true', { ...base, v: true, type: 'hello' }],
    ['v: 1.0000000000000002', { ...base, v: 1.0000000000000002, type: 'hello' }],
    ['v: [1]', { ...base, v: [1], type: 'hello' }],
    // wrong types
    ['from: 7', { ...base, from: 7, type: 'hello' }],
    ['from: a String object', { ...base, from: new String('t'), type: 'hello' }],
    ['to: null', { ...base, to: null, type: 'hello' }],
    ['to: undefined (kept, as zod keeps it)', { ...base, to: undefined, type: 'hello' }],
    ['services: a string', { ...base, type: 'needs', services: 'tasks', propertyFilter: null }],
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    ['services with a hole', { ...base, type: 'needs', services: [, 'tasks'], propertyFilter: null }],
    ['propertyFilter: undefined', { ...base, type: 'needs', services: [], propertyFilter: undefined }],
    ["propertyFilter: ''", { ...base, type: 'needs', services: [], propertyFilter: '' }],
    ['propertyFilter with a comma', { ...base, type: 'needs', services: [], propertyFilter: 'p1,p2' }],
    ['propertyFilter: a lone surrogate', { ...base, type: 'needs', services: [], propertyFilter: '\uD800' }],
    [
      'propertyFilter: reversed halves',
      { ...base, type: 'needs', services: [], propertyFilter: '\uDE00\uD83D' },
    ],
    [
      'propertyFilter of 101 chars',
      { ...base, type: 'needs', services: [], propertyFilter: 'x'.repeat(101) },
    ],
    [
      'propertyFilter of 100 pairs',
      { ...base, type: 'needs', services: [], propertyFilter: '😀'.repeat(100) },
    ],
    ['consecutiveFailures: 1.5', { ...state, circuit: { state: 'open', consecutiveFailures: 1.5 } }],
    ['consecutiveFailures: 2**53', { ...state, circuit: { state: 'open', consecutiveFailures: 2 ** 53 } }],
    ['consecutiveFailures: -0', { ...state, circuit: { state: 'open', consecutiveFailures: -0 } }],
    ['openedAt: NaN', { ...state, circuit: { state: 'open', consecutiveFailures: 1, openedAt: Number.NaN } }],
    ['lastSuccessAt: Infinity', { ...state, lastSuccessAt: Number.POSITIVE_INFINITY }],
    ['lastSuccessAt: undefined', { ...state, lastSuccessAt: undefined }],
    [
      'circuit: an array',
      { ...state, circuit: Object.assign([], { state: 'open', consecutiveFailures: 1 }) },
    ],
    ['rolloutPercent: -0', { ...base, type: 'flags', flags: { rolloutPercent: -0 } }],
    ['rolloutPercent: 100.0001', { ...base, type: 'flags', flags: { rolloutPercent: 100.0001 } }],
    [
      'every flag undefined',
      { ...base, type: 'flags', flags: { enabled: undefined, disabledOrgs: undefined } },
    ],
    ['flags: an array', { ...base, type: 'flags', flags: [] }],
    ['flags: null', { ...base, type: 'flags', flags: null }],
    ['disabledOrgs with a number', { ...base, type: 'flags', flags: { disabledOrgs: ['a', 1] } }],
    ['fromUrl: a name', { ...base, type: 'flags', flags: {}, fromUrl: 'enabled' }],
    ['fromUrl with no flag', { ...base, type: 'flags', flags: {}, fromUrl: ['enabled', 'toString'] }],
    ['fromUrl with a String object', { ...base, type: 'flags', flags: {}, fromUrl: [new String('enabled')] }],
    ['fromUrl: undefined', { ...base, type: 'flags', flags: {}, fromUrl: undefined }],
    [
      'document with a disabled "service" that is none',
      { ...base, type: 'flags', flags: {}, document: { disabledServices: ['a b', ''] } },
    ],
    ['document: null', { ...base, type: 'flags', flags: {}, document: null }],
    ['document: an array', { ...base, type: 'flags', flags: {}, document: [] }],
    ['document: undefined', { ...base, type: 'flags', flags: {}, document: undefined }],
    [
      'document with rolloutPercent 101',
      { ...base, type: 'flags', flags: {}, document: { rolloutPercent: 101 } },
    ],
    [
      'document with a number in disabledServices',
      { ...base, type: 'flags', flags: {}, document: { disabledServices: [1] } },
    ],
    // oversized tab ids
    ['a 129-char sender', { ...base, from: 'x'.repeat(129), type: 'hello' }],
    ['a 100k-char sender', { ...base, from: 'x'.repeat(100_000), type: 'hello' }],
    ['a 128-code-point sender of 256 units', { ...base, from: '😀'.repeat(128), type: 'hello' }],
    ['a 129-code-point sender of 258 units', { ...base, from: '😀'.repeat(129), type: 'hello' }],
    ['a sender of 129 lone surrogates', { ...base, from: '\uD83D'.repeat(129), type: 'hello' }],
    [
      'a sender of 128 code points, the last lone',
      { ...base, from: `${'😀'.repeat(127)}\uD83D`, type: 'hello' },
    ],
    ['a 129-char leader', { ...base, type: 'leader', leaderTabId: 'x'.repeat(129) }],
    ['an empty addressee', { ...base, to: '', type: 'hello' }],
    // arrays
    ['an array with message keys', Object.assign([], { ...base, type: 'hello' })],
    ['an array of a message', [{ ...base, type: 'hello' }]],
    // null prototypes (z.object and z.record take them)
    ['a null-prototype message', Object.assign(Object.create(null), { ...base, type: 'hello' })],
    [
      'a null-prototype frame',
      { ...base, type: 'frame', frame: Object.assign(Object.create(null), { type: 'heartbeat' }) },
    ],
    [
      'a null-prototype cursor',
      { ...base, type: 'cursor', cursor: Object.assign(Object.create(null), { tasks: 1 }) },
    ],
    // what only code can hand in
    ['an inherited type', Object.assign(Object.create({ type: 'bye' }), base)],
    ['an inherited addressee', Object.assign(Object.create({ to: 'tab-b' }), { ...base, type: 'hello' })],
    ['an inherited bad addressee', Object.assign(Object.create({ to: 5 }), { ...base, type: 'hello' })],
    [
      'a class instance frame',
      {
        ...base,
        type: 'frame',
        frame: new (class {
          a = 1;
        })(),
      },
    ],
    ['a Map frame', { ...base, type: 'frame', frame: new Map([['a', 1]]) }],
    ['a Date frame', { ...base, type: 'frame', frame: new Date(0) }],
    ['a symbol-keyed frame', { ...base, type: 'frame', frame: { a: 1, [Symbol('s')]: 2 } }],
    [
      'a frame with a non-enumerable key',
      { ...base, type: 'frame', frame: Object.defineProperty({ a: 1 }, 'hidden', { value: 2 }) },
    ],
    ['a frame with undefined values', { ...base, type: 'frame', frame: { a: undefined } }],
    ['a frame whose constructor is not a function', { ...base, type: 'frame', frame: { constructor: 1 } }],
    ['a function', Object.assign(() => {}, { ...base, type: 'hello' })],
    // throwing getters
    ['a throwing type', throwing({ ...base }, 'type')],
    ['a throwing sender', throwing({ v: 1, type: 'hello' }, 'from')],
    ['a throwing unknown key', throwing({ ...base, type: 'hello' }, 'extra')],
    ['a throwing flag', { ...base, type: 'flags', flags: throwing({}, 'shadowMode') }],
    ['a throwing frame value', { ...base, type: 'frame', frame: throwing({}, 'a') }],
    ['a throwing frame constructor', { ...base, type: 'frame', frame: throwing({}, 'constructor') }],
    // proxies
    ['a transparent proxy', new Proxy({ ...base, type: 'hello', to: 'b' }, {})],
    [
      'a proxy hiding the sender from `in`',
      new Proxy({ ...base, type: 'hello' }, { has: (_, key) => key !== 'from' }),
    ],
    [
      'a proxy with a throwing has',
      new Proxy(
        { ...base, type: 'hello' },
        {
          has: () => {
            throw new Error('trap');
          },
        },
      ),
    ],
  ];

  it.each(hostile)('on %s', (_, input) => {
    expectSameMessage(input);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('covers both outcomes in the hostile list', () => {
    const outcomes = hostile.map(([, input]) => expectSameMessage(input));
    expect(outcomes.filter((o) => o === 'accepted').length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o === 'declined').length).toBeGreaterThan(30);
  });

  it('never throws on revoked proxies, anywhere in a message', () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    const inputs = [
      revoked(),
      { ...base, type: 'frame', frame: revoked() },
      { ...base, type: 'state', status: 'idle', circuit: revoked() },
      { ...base, type: 'needs', services: revoked(), propertyFilter: null },
      { ...base, type: 'cursor', cursor: revoked() },
    ];
    for (const input of inputs) expectSameMessage(input);
  });

  it('keeps the frame payload values by reference, as zod does', () => {
    const payload = { nested: { a: 1 } };
    const message = parseChannelMessage({ ...base, type: 'frame', frame: payload });
    const frame = message?.type === 'frame' ? message.frame : undefined;
    expect(frame).not.toBe(payload);
    expect((frame as typeof payload).nested).toBe(payload.nested);
  });

  it('stops at the first bad item of a huge sparse array', () => {
    const started = Date.now();
    expect(
      parseChannelMessage({ ...base, type: 'needs', services: new Array(2 ** 32 - 1), propertyFilter: null }),
    ).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

// ---- the storage lease -------------------------------------------------

const LEASE_KEYS = ['tabId', 'nonce', 'v', 'extra', '__proto__'];

const leaseArb = fc
  .record({
    lease: fc.record({
      tabId,
      nonce: fc.oneof(
        { arbitrary: fc.string({ minLength: 1, maxLength: 64 }), weight: 4 },
        aroundBound(64),
        fc.constantFrom('', 'n'.repeat(64), 'n'.repeat(65), '😀'.repeat(64), '😀'.repeat(65)),
      ),
      v: fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, weird),
    }),
    change: fc.option(
      fc.oneof(
        fc.record({
          kind: fc.constant('set' as const),
          key: fc.constantFrom(...LEASE_KEYS),
          value: plausible,
        }),
        fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...LEASE_KEYS) }),
        fc.record({
          kind: fc.constant('inherit' as const),
          key: fc.constantFrom(...LEASE_KEYS),
          value: plausible,
        }),
      ),
      { freq: 3 },
    ),
  })
  .map(({ lease, change }) => {
    const copy: Record<string, unknown> = { ...lease };
    mutate(copy, change);
    return copy;
  });

describe('readLease agrees with leaseSchema', () => {
  it('on mostly-valid leases, as objects (property)', () => {
    const seen = { accepted: 0, declined: 0 };
    fc.assert(
      fc.property(leaseArb, (lease) => {
        seen[expectSameLease(lease)]++;
      }),
      { numRuns: 2000 },
    );
    expectExplored(seen, 300);
  });

  it('on the same leases as they come out of localStorage: JSON, also with __proto__ keys (property)', () => {
    fc.assert(
      fc.property(
        leaseArb,
        fc.constantFrom<unknown>({ polluted: 1 }, { tabId: 'x' }, null, 5),
        (lease, proto) => {
          expectSameLease(parsed(jsonText(lease)));
          const json = parsed(withOwnProtoKeys(lease, proto));
          expectSameLease(json);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
  });

  itAgreesOnAnyValue(weird, expectSameLease);

  it('strips unknown keys and refuses what the schema refuses', () => {
    expect(
      readLease(JSON.parse('{"__proto__":{"x":1},"tabId":"t","nonce":"n","v":1,"extra":2}')),
    ).toStrictEqual({
      tabId: 't',
      nonce: 'n',
      v: 1,
    });
    for (const input of [
      { tabId: 't', nonce: 'n', v: 2 },
      { tabId: 't', nonce: 'n' },
      { tabId: '', nonce: 'n', v: 1 },
      { tabId: 'x'.repeat(129), nonce: 'n', v: 1 },
      { tabId: 't', nonce: 'n'.repeat(65), v: 1 },
      [{ tabId: 't', nonce: 'n', v: 1 }],
      null,
      'lease',
    ]) {
      expect(readLease(input)).toBeUndefined();
      expectSameLease(input);
    }
  });
});
