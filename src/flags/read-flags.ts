import type { ResolvedFlags } from '../state';

// The flags poller's reader of a flags document. It imports nothing, not even
// the core's reader kit (protocol/read.ts): a module both the core and this
// lazily loaded chunk imported would become a chunk of its own, one more file
// for every app. The definition is `flagsPayloadSchema` (flags-schema.ts);
// the test holds this reader to it.

const isBoolean = (value: unknown): boolean => typeof value === 'boolean';
const isStrings = (value: unknown): boolean =>
  Array.isArray(value) && Array.from(value).every((item) => typeof item === 'string');
const isPercent = (value: unknown): boolean =>
  Number.isFinite(value) && (value as number) >= 0 && (value as number) <= 100;

// In the schema's key order, so the first field refused is the one zod names first.
const FIELDS: readonly (readonly [keyof ResolvedFlags, (value: unknown) => boolean, string])[] = [
  ['enabled', isBoolean, 'a boolean'],
  ['emergencyDisable', isBoolean, 'a boolean'],
  ['disabledOrgs', isStrings, 'an array of strings'],
  ['rolloutPercent', isPercent, 'a number from 0 to 100'],
  ['shadowMode', isBoolean, 'a boolean'],
  ['disabledServices', isStrings, 'an array of strings'],
];

/**
 * The flags of a parsed flags document, as `flagsPayloadSchema` outputs them
 * (unknown keys stripped, arrays copied), or why it is refused: `"<key>:
 * expected …"`, or `"expected an object"`.
 */
export function readFlagsDocument(value: unknown): Partial<ResolvedFlags> | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected an object';
  const input = value as Record<string, unknown>;
  const flags: Record<string, unknown> = {};
  for (const [key, valid, what] of FIELDS) {
    // As zod reads it: once, own or inherited; a present `undefined` is kept.
    if (!(key in input)) continue;
    const field = input[key];
    if (field !== undefined && !valid(field)) return `${key}: expected ${what}`;
    flags[key] = Array.isArray(field) ? Array.from(field) : field;
  }
  return flags as Partial<ResolvedFlags>;
}
