import { isFrameType, readServerFrame } from './frame-reader';
import { isObject } from './read';
import type { ServerFrame } from './schemas';

/** Outcome of reading one frame from the network. Never throws. */
export type FrameParseResult =
  | { ok: true; frame: ServerFrame }
  | { ok: false; reason: 'not_text' | 'too_large' | 'not_json' | 'invalid'; detail?: string };

/** Default upper bound of one frame, in UTF-16 code units of its text. */
export const DEFAULT_MAX_FRAME_CHARS = 16 * 1024 * 1024;

/**
 * Parses a frame that arrived as JSON text or an already-parsed object
 * (long-poll answers carry objects). Anything that is not a valid frame of
 * PROTOCOL.md comes back as `ok: false` with the reason, to be counted and
 * dropped by the caller.
 */
export function parseServerFrame(input: unknown, maxChars = DEFAULT_MAX_FRAME_CHARS): FrameParseResult {
  if (typeof input === 'string') {
    if (input.length > maxChars) return { ok: false, reason: 'too_large' };
    let value: unknown;
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'not_json' };
    }
    return validateFrame(value);
  }
  if (typeof input !== 'object' || input === null) return { ok: false, reason: 'not_text' };
  try {
    if (isBinary(input)) return { ok: false, reason: 'not_text' };
  } catch (error) {
    return invalidBecause(error); // a revoked Proxy throws even on instanceof
  }
  return validateFrame(input);
}

function validateFrame(value: unknown): FrameParseResult {
  // Set when reading the frame threw: only objects handed in by code (never
  // JSON text) get there, through a throwing getter or a Proxy. Still a bad
  // frame, never an exception.
  let threw: FrameParseResult | undefined;
  try {
    const frame = readServerFrame(value, (error) => {
      threw = invalidBecause(error);
    });
    if (frame !== undefined) return { ok: true, frame };
    if (threw !== undefined) return threw;
    const type = isObject(value) ? value.type : undefined;
    return {
      ok: false,
      reason: 'invalid',
      detail: isFrameType(type) ? `invalid ${type} frame` : 'unknown frame type',
    };
  } catch (error) {
    // Reading `type` once more for the detail threw after all.
    return invalidBecause(error);
  }
}

function invalidBecause(error: unknown): FrameParseResult {
  let detail = 'reading the frame threw';
  try {
    // Whatever was thrown came from the caller's object and may itself throw
    // when looked at (a revoked Proxy, a getter on `message`).
    if (error instanceof Error) detail = String(error.message);
    else if (typeof error === 'string') detail = error;
  } catch {
    // keep the generic detail
  }
  return { ok: false, reason: 'invalid', detail };
}

/**
 * A binary message (WebSocket `arraybuffer` or `blob` type, a Node Buffer):
 * the protocol is text only, and the reader would only call it an invalid object.
 */
function isBinary(input: object): boolean {
  return (
    ArrayBuffer.isView(input) ||
    input instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && input instanceof SharedArrayBuffer) ||
    (typeof Blob !== 'undefined' && input instanceof Blob)
  );
}
