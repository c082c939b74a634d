import { guarded } from '../util/guarded';
import { arrayOf, readCursor, readObject } from './read';
import type { Cursor } from './schemas';

// The readers of the HTTP answers of PROTOCOL.md, which only the SSE and
// long-poll transports need. They reach them through the core's kit
// (transports/kit.ts), never by importing this module: it uses read.ts, which
// the core loads, and a module both import would become a chunk of its own.
// So they are in the core's bundle: a hundred bytes, less than that extra
// chunk. Like the frame reader (server-frame-reader.ts), each accepts exactly
// what its zod schema accepts and returns a strictly equal value
// (test/unit/protocol/frame-reader.test.ts).

/** `updateServicesResponseSchema`: the answer of `POST /update-services`. Never throws. */
export function readUpdateServicesResponse(value: unknown): { cursor: Cursor } | undefined {
  return guarded(() => readObject(value, [['cursor', readCursor]]));
}

/** `pollResponseSchema`: the answer of `GET /poll` with status 200. Never throws. */
export function readPollResponse(value: unknown): { frames: unknown[] } | undefined {
  return guarded(() => readObject(value, [['frames', arrayOf(() => true)]]));
}
