import { arrayOf, guarded, readCursor, readObject } from './read';
import type { Cursor } from './schemas';

// The readers of the HTTP answers of PROTOCOL.md, which only the SSE and
// long-poll transports need: apart from the frame reader
// (server-frame-reader.ts), which every app loads, so that a WebSocket-only
// app does not carry them. Like it, each accepts exactly what its zod schema
// accepts and returns a strictly equal value (test/unit/protocol/frame-reader.test.ts).

/** `updateServicesResponseSchema`: the answer of `POST /update-services`. Never throws. */
export function readUpdateServicesResponse(value: unknown): { cursor: Cursor } | undefined {
  return guarded(() => readObject(value, [['cursor', readCursor]]));
}

/** `pollResponseSchema`: the answer of `GET /poll` with status 200. Never throws. */
export function readPollResponse(value: unknown): { frames: unknown[] } | undefined {
  return guarded(() => readObject(value, [['frames', arrayOf(() => true)]]));
}
