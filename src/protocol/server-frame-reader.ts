import { readBatchFrame } from './batch-reader';
import {
  type Field,
  guarded,
  is,
  isNumber,
  isObject,
  isPositiveInt,
  readCursor,
  readMember,
  readServiceNames,
  text,
} from './read';
import type { ServerFrame } from './schemas';

// The reader of the frames the server sends. zod stays the definition
// (schemas.ts: used by the dev server and the tests); the browser bundle
// carries this instead. It accepts exactly what its schema accepts and returns
// a strictly equal value (test/unit/protocol/frame-reader.test.ts, a
// differential property test against the schemas): unknown keys stripped,
// absent optional keys left out, `__proto__` never copied. The readers of
// the HTTP answers are in frame-reader.ts, apart, since only the SSE and
// long-poll transports load them.

const str = text();
const CURSOR: Field = ['cursor', readCursor];

/** The fields after `type`, per frame type (`batch` has its own fast reader). */
const FIELDS: Record<string, readonly Field[]> = {
  welcome: [
    ['connectionId', text(1)],
    ['serverTime', is(isNumber)],
    ['heartbeatMs', is(isPositiveInt)],
    CURSOR,
  ],
  heartbeat: [['serverTime', is(isNumber)]],
  reset: [['services', readServiceNames], CURSOR, ['reason', str]],
  error: [
    ['code', str],
    ['message', str],
    ['retryAfterMs', is((value) => isNumber(value) && value >= 0), 1],
  ],
};

/** Whether `type` names a frame of `serverFrameSchema`. */
export function isFrameType(type: unknown): type is ServerFrame['type'] {
  return type === 'batch' || (typeof type === 'string' && Object.hasOwn(FIELDS, type));
}

/**
 * `serverFrameSchema`: the frame, or `undefined` where zod would refuse. Never
 * throws: an exception while reading (a throwing getter, a revoked Proxy,
 * only possible for objects made by code, never for JSON) refuses the frame
 * and is handed to `onThrow` when given, for a diagnostic.
 */
export function readServerFrame(value: unknown, onThrow?: (error: unknown) => void): ServerFrame | undefined {
  return guarded(() => {
    // The discriminator, as `z.discriminatedUnion('type', …)` picks the member.
    const type = isObject(value) ? value.type : undefined;
    return type === 'batch' ? readBatchFrame(value) : readMember(value, type, FIELDS);
  }, onThrow);
}
