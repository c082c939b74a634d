import { isNumber, isObject, isPositiveInt, isServiceName, readCursor } from './read';
import type { BatchFrame, RealtimeEvent } from './schemas';

// The hot path of the SDK is one `batch` frame of ~100 events after another.
// zod checks each event field by field through generic `run` calls that
// allocate a result object per field, which alone costs about as much as
// JSON.parse of the same text and broke the throughput budget. This reader
// checks a batch in straight-line code instead. (A smaller version that
// copied the optional fields through a generic helper cost a tenth of the
// pipeline's throughput; the generic `readObject` of read.ts, a fifth.)
//
// Contract (proved by test/unit/protocol/batch-reader.test.ts, a differential
// property test against the zod schemas): whenever it returns a frame,
// `batchFrameSchema` accepts the same input and returns a strictly equal
// value (same keys, same absent optional keys); whenever zod accepts a
// `batch`, so does this reader. It returns `undefined` for anything else;
// zod stays the definition the tests hold this reader to.

/**
 * `eventSchema`, or undefined when it would refuse. Optional keys are copied
 * only when present, as zod does. `knownService` is a name that already
 * passed the pattern: events of a batch nearly always share one, so the
 * regex runs once per batch rather than once per event.
 */
function readEvent(value: unknown, knownService: unknown): RealtimeEvent | undefined {
  if (!isObject(value)) return undefined;
  const { service, entityType, type, seq, ts, orgId } = value;
  if (
    (service !== knownService && !isServiceName(service)) ||
    typeof entityType !== 'string' ||
    typeof type !== 'string' ||
    !isPositiveInt(seq) ||
    !isNumber(ts) ||
    typeof orgId !== 'string'
  ) {
    return undefined;
  }
  // Built in the schema's key order so the result is the very object zod would make.
  const event: RealtimeEvent = { service, entityType, type } as RealtimeEvent;
  if ('eventId' in value) {
    const eventId = value.eventId;
    if (eventId !== undefined && typeof eventId !== 'string') return undefined;
    event.eventId = eventId;
  }
  event.seq = seq;
  event.ts = ts;
  event.orgId = orgId;
  if ('propertyId' in value) {
    const propertyId = value.propertyId;
    if (propertyId !== undefined && propertyId !== null && typeof propertyId !== 'string') return undefined;
    event.propertyId = propertyId;
  }
  if ('mutationId' in value) {
    const mutationId = value.mutationId;
    if (mutationId !== undefined && typeof mutationId !== 'string') return undefined;
    event.mutationId = mutationId;
  }
  if ('data' in value) event.data = value.data;
  return event;
}

/**
 * Reads a `batch` frame exactly as `serverFrameSchema` would, only faster:
 * `value` is an object whose `type` is `batch` (readServerFrame, its one
 * caller, checked it). Returns `undefined` when it is not a valid batch.
 */
export function readBatchFrame(value: Record<string, unknown>): BatchFrame | undefined {
  const input = value.events;
  if (!Array.isArray(input)) return undefined;
  const events: RealtimeEvent[] = [];
  // A fresh object, equal to nothing in the input: the first event's name is checked.
  let knownService: unknown = {};
  for (const item of input) {
    const event = readEvent(item, knownService);
    if (event === undefined) return undefined;
    knownService = event.service;
    events.push(event);
  }
  const after = readCursor(value.after);
  const cursor = after && readCursor(value.cursor);
  return cursor && { type: 'batch', events, after, cursor };
}
