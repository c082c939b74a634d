import { isNumber, isObject, isPositiveInt, isServiceName, readCursor } from './read';
import type { BatchFrame, RealtimeEvent } from './schemas';

// The hot path of the SDK is one `batch` frame of ~100 events after another.
// zod checks each event field by field through generic `run` calls that
// allocate a result object per field, which alone costs about as much as
// JSON.parse of the same text and broke the throughput budget. This reader
// checks a batch in straight-line code instead (the generic `readObject` of
// read.ts, tried here, cost a fifth of the whole pipeline's throughput).
//
// Contract (proved by test/unit/protocol/batch-reader.test.ts, a differential
// property test against the zod schemas): whenever it returns a frame,
// `batchFrameSchema` accepts the same input and returns a strictly equal
// value (same keys, same absent optional keys); whenever zod accepts a
// `batch`, so does this reader. It returns `undefined` for anything else;
// zod stays the definition the tests hold this reader to.

const isString = (value: unknown): value is string => typeof value === 'string';

/**
 * Copies the optional `key` of `value` to `event` when present, as zod does
 * (a present `undefined` too). False when a present value fails `ok`.
 */
function copyOptional(
  value: Record<string, unknown>,
  event: Record<string, unknown>,
  key: string,
  ok: (item: unknown) => boolean,
): boolean {
  if (!(key in value)) return true;
  const item = value[key];
  event[key] = item;
  return item === undefined || ok(item);
}

/**
 * Reads a `batch` frame exactly as `serverFrameSchema` would, only faster.
 * Returns `undefined` when the input is not a valid batch (including every
 * other frame type).
 */
export function readBatchFrame(value: unknown): BatchFrame | undefined {
  if (!isObject(value) || value.type !== 'batch') return undefined;
  const input = value.events;
  if (!Array.isArray(input)) return undefined;
  const events: RealtimeEvent[] = [];
  // A name that already passed the pattern: events of a batch nearly always
  // share one, so the regex runs once per batch rather than once per event.
  // NaN to start with, since it equals nothing, itself included.
  let knownService: unknown = Number.NaN;
  for (let i = 0; i < input.length; i++) {
    // `eventSchema`, or refuse the batch.
    const item: unknown = input[i];
    if (!isObject(item)) return undefined;
    const { service, entityType, type, seq, ts, orgId } = item;
    if (
      (service !== knownService && !isServiceName(service)) ||
      !isString(entityType) ||
      !isString(type) ||
      !isPositiveInt(seq) ||
      !isNumber(ts) ||
      !isString(orgId)
    ) {
      return undefined;
    }
    knownService = service;
    // Built in the schema's key order so the result is the very object zod would make.
    const event: Record<string, unknown> = { service, entityType, type };
    if (!copyOptional(item, event, 'eventId', isString)) return undefined;
    event.seq = seq;
    event.ts = ts;
    event.orgId = orgId;
    if (
      !copyOptional(item, event, 'propertyId', (each) => each === null || isString(each)) ||
      !copyOptional(item, event, 'mutationId', isString) ||
      !copyOptional(item, event, 'data', () => true)
    ) {
      return undefined;
    }
    events.push(event as unknown as RealtimeEvent);
  }
  const after = readCursor(value.after);
  const cursor = after && readCursor(value.cursor);
  return cursor && { type: 'batch', events, after, cursor };
}
