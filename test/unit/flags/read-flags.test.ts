import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flagsPayloadSchema } from '../../../src/flags/flags-schema';
import { readFlagsDocument } from '../../../src/flags/read-flags';
import {
  expectExplored,
  expectSameAsZod,
  itAgreesOnAnyValue,
  jsonText,
  type Outcome,
  weird as weirdValues,
  withOwnProtoKeys,
} from '../differential';

// The poller's reader is a hand-written copy of flagsPayloadSchema, so it is
// tested against zod itself, as the frame readers are: on any input it
// accepts exactly when zod accepts, with a strictly equal value (same keys,
// same order); when it refuses, its reason names the field zod names first.

const weird = weirdValues('a', 'org_1', ['org_1'], [true], 50, 100.5);

/** A valid document (optional keys absent or undefined), then maybe one field changed to anything. */
const documents = fc
  .tuple(
    fc.record(
      {
        enabled: fc.boolean(),
        emergencyDisable: fc.boolean(),
        disabledOrgs: fc.array(fc.string(), { maxLength: 3 }),
        rolloutPercent: fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(0, 100, -0)),
        shadowMode: fc.boolean(),
        disabledServices: fc.array(fc.string(), { maxLength: 3 }),
        futureFlag: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
    fc.option(
      fc.tuple(
        fc.constantFrom(
          'enabled',
          'emergencyDisable',
          'disabledOrgs',
          'rolloutPercent',
          'shadowMode',
          'disabledServices',
        ),
        fc.oneof(weird, fc.array(weird, { maxLength: 3 }), fc.double()),
      ),
      { nil: undefined },
    ),
  )
  .map(([doc, change]) => (change ? { ...doc, [change[0]]: change[1] } : doc));

/** The reader as the differential wants it: `undefined` for a refusal. */
const read = (input: unknown): unknown => {
  const flags = readFlagsDocument(input);
  return typeof flags === 'string' ? undefined : flags;
};

function check(input: unknown): Outcome {
  const outcome = expectSameAsZod(read, flagsPayloadSchema, input);
  if (outcome === 'declined') {
    const reason = readFlagsDocument(input);
    expect(typeof reason).toBe('string');
    const issue = flagsPayloadSchema.safeParse(input).error?.issues[0];
    const field = issue?.path[0];
    if (field !== undefined) expect(reason).toMatch(new RegExp(`^${String(field)}: expected `));
    else expect(reason).toBe('expected an object');
  }
  return outcome;
}

describe('readFlagsDocument', () => {
  it('agrees with flagsPayloadSchema on documents with one field changed (property)', () => {
    const seen = { accepted: 0, declined: 0 };
    fc.assert(
      fc.property(documents, (doc) => {
        seen[check(doc)]++;
        // The same document as JSON.parse gives it, own __proto__ keys included.
        const text = withOwnProtoKeys(doc, { enabled: 'no' });
        if (text !== undefined) check(JSON.parse(text));
        const plain = jsonText(doc);
        if (plain !== undefined) check(JSON.parse(plain));
      }),
      { numRuns: 2000 },
    );
    expectExplored(seen, 200);
    // 2,000 generated documents of arbitrary JSON: about 1 s alone, past
    // vitest's 5 s default on a loaded 2-core machine.
  }, 30_000);

  itAgreesOnAnyValue(weird, check, 2000);

  it('strips unknown keys, copies arrays, and keeps the schema key order', () => {
    const orgs = ['org_2', 'org_1'];
    const flags = readFlagsDocument({ rolloutPercent: 5, futureFlag: 1, disabledOrgs: orgs, enabled: true });
    expect(flags).toEqual({ enabled: true, disabledOrgs: ['org_2', 'org_1'], rolloutPercent: 5 });
    expect(Object.keys(flags)).toEqual(['enabled', 'disabledOrgs', 'rolloutPercent']);
    expect((flags as { disabledOrgs: string[] }).disabledOrgs).not.toBe(orgs);
  });

  it('says which field is wrong and what it should be', () => {
    expect(readFlagsDocument({ rolloutPercent: 101 })).toBe(
      'rolloutPercent: expected a number from 0 to 100',
    );
    expect(readFlagsDocument({ disabledOrgs: ['a', 1] })).toBe('disabledOrgs: expected an array of strings');
    expect(readFlagsDocument({ emergencyDisable: 'yes' })).toBe('emergencyDisable: expected a boolean');
    expect(readFlagsDocument([1, 2])).toBe('expected an object');
    expect(readFlagsDocument(null)).toBe('expected an object');
  });
});
