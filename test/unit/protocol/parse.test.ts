import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_CHARS,
  type FrameParseResult,
  parseServerFrame,
} from '../../../src/protocol/parse';

/** Runs the parser and fails the test if it throws; returns what it returned. */
function parseNeverThrowing(input: unknown, maxChars?: number): FrameParseResult {
  let result: FrameParseResult | undefined;
  expect(() => {
    result = parseServerFrame(input, maxChars);
  }).not.toThrow();
  return result!;
}

function expectWellFormed(result: FrameParseResult): void {
  if (result.ok) expect(typeof result.frame.type).toBe('string');
  else expect(['not_text', 'too_large', 'not_json', 'invalid']).toContain(result.reason);
}

const validEvent = {
  service: 'tasks',
  entityType: 'task',
  type: 'task.updated',
  eventId: 'evt_01H',
  seq: 57,
  ts: 1763800000123,
  orgId: 'org_1',
  propertyId: 'prop_9',
  mutationId: 'm_V1StGXR8',
  data: { id: 't_1', title: '...' },
};
const validBatch = { type: 'batch', events: [validEvent], after: { tasks: 56 }, cursor: { tasks: 57 } };

/** Puts `"__proto__":{"polluted":1}` into every object of a JSON text, at every depth. */
function withProtoEverywhere(json: string): string {
  return json
    .replace(/\{(?=")/g, '{"__proto__":{"polluted":1},')
    .replace(/\{\}/g, '{"__proto__":{"polluted":1}}');
}

afterEach(() => {
  // A test that polluted the prototype must not leak into the others (and must fail).
  const proto = Object.prototype as Record<string, unknown>;
  const polluted = proto.polluted;
  delete proto.polluted;
  expect(polluted).toBeUndefined();
});

describe('parseServerFrame: examples', () => {
  it('parses a valid batch from text and from an object', () => {
    for (const input of [JSON.stringify(validBatch), validBatch]) {
      const result = parseServerFrame(input);
      expect(result).toEqual({ ok: true, frame: validBatch });
    }
  });

  it('parses every other frame type through the schema', () => {
    const frames = [
      { type: 'welcome', connectionId: 'c1', serverTime: 1, heartbeatMs: 15000, cursor: { tasks: 1 } },
      { type: 'heartbeat', serverTime: 2 },
      { type: 'reset', services: ['tasks'], cursor: { tasks: 0 }, reason: 'expired' },
      { type: 'error', code: 'overloaded', message: 'busy', retryAfterMs: 500 },
    ];
    for (const frame of frames) expect(parseServerFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });

  it('says why a frame is refused', () => {
    expect(parseServerFrame('{')).toEqual({ ok: false, reason: 'not_json' });
    expect(parseServerFrame('{"type":"nope"}')).toEqual({
      ok: false,
      reason: 'invalid',
      detail: 'unknown frame type',
    });
    const bad = parseServerFrame(JSON.stringify({ ...validBatch, events: [{ ...validEvent, seq: 0 }] }));
    expect(bad).toEqual({ ok: false, reason: 'invalid', detail: 'invalid batch frame' });
    expect(parseServerFrame('{"type":"heartbeat"}')).toEqual({
      ok: false,
      reason: 'invalid',
      detail: 'invalid heartbeat frame',
    });
    for (const text of ['[]', '5', '"welcome"', 'null', '{"type":"toString"}', '{"type":["batch"]}']) {
      expect(parseServerFrame(text)).toEqual({ ok: false, reason: 'invalid', detail: 'unknown frame type' });
    }
  });

  it.each([
    ['ArrayBuffer', new ArrayBuffer(8)],
    ['Uint8Array', new TextEncoder().encode(JSON.stringify(validBatch))],
    ['DataView', new DataView(new ArrayBuffer(4))],
    ['Buffer', Buffer.from(JSON.stringify(validBatch))],
    ['SharedArrayBuffer', new SharedArrayBuffer(4)],
    ['Blob', new Blob([JSON.stringify(validBatch)])],
  ])('refuses binary input (%s) as not_text', (_name, input) => {
    expect(parseServerFrame(input)).toEqual({ ok: false, reason: 'not_text' });
  });

  it.each([undefined, null, 42, true, Symbol('x'), () => 1])('refuses %s as not_text', (input) => {
    expect(parseServerFrame(input)).toEqual({ ok: false, reason: 'not_text' });
  });

  it('parses a 10 MB batch of valid shape', () => {
    const events = [];
    for (let seq = 1; events.length < 40_000; seq++) {
      events.push({
        ...validEvent,
        seq,
        eventId: `evt_${seq}`,
        data: { id: `t_${seq}`, body: 'x'.repeat(200) },
      });
    }
    const text = JSON.stringify({
      type: 'batch',
      events,
      after: { tasks: 0 },
      cursor: { tasks: events.length },
    });
    expect(text.length).toBeGreaterThan(10_000_000);
    const result = parseServerFrame(text);
    expect(result.ok).toBe(true);
    if (result.ok && result.frame.type === 'batch') expect(result.frame.events).toHaveLength(40_000);
  });

  it('refuses a 10 MB string beyond maxChars as too_large without parsing it', () => {
    const text = `{"type":"heartbeat","serverTime":1,"pad":"${'x'.repeat(10_000_000)}"}`;
    expect(parseServerFrame(text, 1024)).toEqual({ ok: false, reason: 'too_large' });
    expect(parseServerFrame('x'.repeat(DEFAULT_MAX_FRAME_CHARS + 1))).toEqual({
      ok: false,
      reason: 'too_large',
    });
    // Exactly at the limit is allowed (and here parsed as JSON).
    const small = '{"type":"heartbeat","serverTime":1}';
    expect(parseServerFrame(small, small.length).ok).toBe(true);
  });

  it('handles huge and odd numbers by the schema, never by throwing', () => {
    const heartbeat = (n: string) => parseServerFrame(`{"type":"heartbeat","serverTime":${n}}`);
    expect(heartbeat('1e308').ok).toBe(true);
    expect(heartbeat('1e309')).toMatchObject({ ok: false, reason: 'invalid' }); // Infinity
    expect(heartbeat('-1e309')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(heartbeat('-0').ok).toBe(true);
    expect(heartbeat('"NaN"')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(heartbeat('NaN')).toEqual({ ok: false, reason: 'not_json' });
    const seq = (n: string) => parseServerFrame(JSON.stringify(validBatch).replace('"seq":57', `"seq":${n}`));
    expect(seq('9007199254740993')).toMatchObject({ ok: false, reason: 'invalid' }); // not a safe integer
    expect(seq('1e300')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(seq('57.0').ok).toBe(true);
    expect(seq('-0')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('survives deeply nested input', () => {
    const depth = 100_000;
    expectWellFormed(parseNeverThrowing('['.repeat(depth) + ']'.repeat(depth)));
    const deepData = JSON.stringify(validBatch).replace(
      '{"id":"t_1","title":"..."}',
      `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    );
    expect(parseNeverThrowing(deepData).ok).toBe(true);
    let nested: unknown = 1;
    for (let i = 0; i < depth; i++) nested = { events: [nested], after: nested };
    expectWellFormed(parseNeverThrowing(nested));
  });

  it('turns throwing getters and revoked proxies into invalid, not exceptions', () => {
    const getter = {
      type: 'batch',
      get events(): never {
        throw new Error('getter');
      },
    };
    expect(parseNeverThrowing(getter)).toMatchObject({ ok: false, reason: 'invalid' });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(parseNeverThrowing(proxy)).toMatchObject({ ok: false, reason: 'invalid' });
    const throwsRevoked = {
      type: 'heartbeat',
      get serverTime(): never {
        throw proxy;
      },
    };
    expect(parseNeverThrowing(throwsRevoked)).toEqual({
      ok: false,
      reason: 'invalid',
      detail: 'reading the frame threw',
    });
    const symbolKey = { ...validBatch, after: { [Symbol('s')]: 1 } };
    expect(parseNeverThrowing(symbolKey)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('never lets __proto__ keys pollute Object.prototype, at any depth', () => {
    const frames = [
      validBatch,
      { type: 'welcome', connectionId: 'c', serverTime: 1, heartbeatMs: 1, cursor: {} },
      { type: 'reset', services: [], cursor: {}, reason: 'r' },
      { type: 'heartbeat', serverTime: 1 },
    ];
    for (const frame of frames) {
      const text = withProtoEverywhere(JSON.stringify(frame));
      expect(text).toContain('"__proto__":{"polluted":1}');
      const result = parseNeverThrowing(text);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      if (result.ok) {
        // Nothing the parser returns has a changed prototype or an own __proto__ key, except
        // inside `data`, which is the app's opaque payload and comes from JSON.parse as is.
        expect(Object.getPrototypeOf(result.frame)).toBe(Object.prototype);
        expect(Object.hasOwn(result.frame, '__proto__')).toBe(false);
      }
    }
  });
});

describe('parseServerFrame: properties', () => {
  it('never throws for any JSON value, as text or as object', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expectWellFormed(parseNeverThrowing(JSON.stringify(value)));
        expectWellFormed(parseNeverThrowing(value));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws for any string, including lone surrogates and control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expectWellFormed(parseNeverThrowing(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws for random bytes, as text or as binary', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        expectWellFormed(parseNeverThrowing(new TextDecoder().decode(bytes)));
        expect(parseNeverThrowing(bytes)).toEqual({ ok: false, reason: 'not_text' });
        expect(parseNeverThrowing(bytes.buffer)).toEqual({ ok: false, reason: 'not_text' });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws for anything at all handed in as an object', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true }),
        (value) => {
          expectWellFormed(parseNeverThrowing(value));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws for near-valid batches with any value in any field', () => {
    const field = fc.constantFrom(
      'type',
      'events',
      'after',
      'cursor',
      'service',
      'seq',
      'ts',
      'eventId',
      'propertyId',
      'data',
    );
    fc.assert(
      fc.property(field, fc.jsonValue(), fc.boolean(), (key, value, inEvent) => {
        const event: Record<string, unknown> = { ...validEvent };
        const frame: Record<string, unknown> = { ...validBatch, events: [event] };
        (inEvent ? event : frame)[key] = value;
        const result = parseNeverThrowing(JSON.stringify(frame));
        expectWellFormed(result);
      }),
      { numRuns: 500 },
    );
  });

  it('never pollutes Object.prototype whatever JSON carries __proto__ keys', () => {
    const hostile = fc
      .jsonValue()
      .map((value) => withProtoEverywhere(JSON.stringify({ ...validBatch, extra: value })));
    fc.assert(
      fc.property(hostile, (text) => {
        parseNeverThrowing(text);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
