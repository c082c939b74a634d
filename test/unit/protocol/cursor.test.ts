import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCursorParam } from '../../../src/devserver/http-util';
import { decodeCursor, encodeCursor, MAX_CURSOR_LENGTH } from '../../../src/protocol/cursor';
import { type Cursor, cursorSchema, SERVICE_NAME_PATTERN } from '../../../src/protocol/schemas';

// fast-check cannot generate from the lookahead, so: the character class, then the pattern as a filter.
const serviceName = fc
  .stringMatching(/^[A-Za-z0-9_.:-]{1,100}$/)
  .filter((name) => SERVICE_NAME_PATTERN.test(name));
const cursorArb: fc.Arbitrary<Cursor> = fc.dictionary(serviceName, fc.maxSafeNat(), { maxKeys: 20 });

/** base64url of arbitrary text, the way a corrupt-but-decodable value would look. */
function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

describe('encodeCursor / decodeCursor', () => {
  it('round-trips any valid cursor (property)', () => {
    fc.assert(
      fc.property(cursorArb, (cursor) => {
        const encoded = encodeCursor(cursor);
        expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/); // URL- and header-safe, no padding
        expect(decodeCursor(encoded)).toEqual(cursor);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes as base64url of the JSON, as PROTOCOL.md says', () => {
    expect(encodeCursor({ tasks: 57, finance: 3 })).toBe(b64url('{"tasks":57,"finance":3}'));
    expect(decodeCursor(b64url('{"tasks":57}'))).toEqual({ tasks: 57 });
  });

  it.each([
    ['empty', ''],
    ['not base64', '!!!*'],
    ['not JSON', b64url('tasks=57')],
    ['an array', b64url('[1,2]')],
    ['a number', b64url('57')],
    ['null', b64url('null')],
    ['a negative seq', b64url('{"tasks":-1}')],
    ['a fractional seq', b64url('{"tasks":1.5}')],
    ['an unsafe seq', b64url('{"tasks":9007199254740993}')],
    ['a string seq', b64url('{"tasks":"57"}')],
    ['a bad service name', b64url('{"no spaces":1}')],
    ['a prototype key', b64url('{"constructor":1}')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url')],
    ['too long', 'A'.repeat(100_001)],
  ])('returns undefined for %s', (_name, encoded) => {
    expect(decodeCursor(encoded)).toBeUndefined();
  });

  it('never throws and returns only valid cursors for any string (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.base64String(),
          fc.jsonValue().map((v) => b64url(JSON.stringify(v))),
        ),
        (text) => {
          let decoded: Cursor | undefined;
          expect(() => {
            decoded = decodeCursor(text);
          }).not.toThrow();
          if (decoded !== undefined) expect(cursorSchema.safeParse(decoded).success).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  // JSON allows blanks, so 75,000 bytes of JSON encode to exactly 100,000 base64url characters.
  it('decodes a cursor of exactly MAX_CURSOR_LENGTH (100,000) characters, not one byte of JSON more', () => {
    expect(MAX_CURSOR_LENGTH).toBe(100_000);
    const json = (bytes: number) => `{"tasks":1${' '.repeat(bytes - 11)}}`;
    expect(b64url(json(75_000))).toHaveLength(100_000);
    expect(decodeCursor(b64url(json(75_000)))).toEqual({ tasks: 1 });
    expect(b64url(json(75_001)).length).toBeGreaterThan(100_000);
    expect(decodeCursor(b64url(json(75_001)))).toBeUndefined();
  });

  it("names the limit in the dev server's 400 for a cursor parameter it cannot read", () => {
    expect(() => parseCursorParam('A'.repeat(100_001))).toThrow(
      'cursor is not a base64url JSON cursor of at most 100000 characters',
    );
  });

  it('drops a __proto__ key without polluting anything', () => {
    const decoded = decodeCursor(b64url('{"__proto__":{"polluted":1},"tasks":2}'));
    expect(decoded).toEqual({ tasks: 2 });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
