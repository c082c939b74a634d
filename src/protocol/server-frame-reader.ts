import { readBatchFrame } from './batch-reader';
import {
  type Field,
  is,
  isNumber,
  isObject,
  isPositiveInt,
  num,
  readCursor,
  readMember,
  readServiceNames,
  str,
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

/** The fields after `type`, per frame type (`batch` has its own fast reader). */
const FIELDS: Record<string, readonly Field[]> = {
  welcome: [
    ['connectionId', text(1)],
    ['serverTime', num],
    ['heartbeatMs', is(isPositiveInt)],
    ['cursor', readCursor],
  ],
  heartbeat: [['serverTime', num]],
  reset: [
    ['services', readServiceNames],
    ['cursor', readCursor],
    ['reason', str],
  ],
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
 * `serverFrameSchema`: the frame, or `undefined` where zod would refuse.
 * Throws where zod throws too: on a throwing getter or a revoked Proxy,
 * only possible for objects made by code, never for JSON. Its one caller,
 * parseServerFrame, turns that into an invalid frame with the error's
 * message as the detail.
 */
export function readServerFrame(value: unknown): ServerFrame | undefined {
  // The discriminator, as `z.discriminatedUnion('type', …)` picks the member.
  const type = isObject(value) ? value.type : undefined;
  // `type` is only read from an object.
  if (type === 'batch') return readBatchFrame(value as Record<string, unknown>);
  // What the schema of `type` outputs.
  return readMember(value, type, FIELDS) as ServerFrame | undefined;
}
