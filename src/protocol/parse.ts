import { isObject } from './read';
import type { ServerFrame } from './schemas';
import { isFrameType, readServerFrame } from './server-frame-reader';

/** Outcome of reading one frame from the network. Never throws. */
export type FrameParseResult =
  | { ok: true; frame: ServerFrame }
  | { ok: false; reason: 'not_text' | 'too_large' | 'not_json' | 'invalid'; detail?: string };

/** Default upper bound of one frame, in UTF-16 code units of its text. */
export const DEFAULT_MAX_FRAME_CHARS = 2 ** 24; // 16 Mi

/**
 * Parses a frame that arrived as JSON text or an already-parsed object
 * (long-poll answers carry objects). Anything that is not a valid frame of
 * PROTOCOL.md comes back as `ok: false` with the reason, to be counted and
 * dropped by the caller.
 */
export function parseServerFrame(input: unknown, maxChars = DEFAULT_MAX_FRAME_CHARS): FrameParseResult {
  let detail = 'reading the frame threw';
  try {
    let value = input;
    if (typeof input === 'string') {
      if (input.length > maxChars) return { ok: false, reason: 'too_large' };
      try {
        value = JSON.parse(input);
      } catch {
        return { ok: false, reason: 'not_json' };
      }
    } else if (typeof input !== 'object' || input === null || isBinary(input)) {
      return { ok: false, reason: 'not_text' };
    }
    // What the reader throws is caught below.
    const frame = readServerFrame(value);
    if (frame) return { ok: true, frame };
    const type = isObject(value) ? value.type : undefined;
    detail = isFrameType(type) ? `invalid ${type} frame` : 'unknown frame type';
  } catch (error) {
    // Only an object handed in by code (never JSON text) gets here, through a
    // throwing getter or a Proxy (a revoked one throws even on `instanceof`).
    // Still a bad frame, never an exception; and what was thrown may itself
    // throw when looked at (a revoked Proxy, a getter on `message`).
    try {
      detail = error instanceof Error ? String(error.message) : typeof error === 'string' ? error : detail;
    } catch {
      // keep the generic detail
    }
  }
  return { ok: false, reason: 'invalid', detail };
}

/**
 * A binary message (WebSocket `arraybuffer` or `blob` type, a Node Buffer):
 * the protocol is text only, and the reader would only call it an invalid
 * object. SharedArrayBuffer and Blob may be missing from the platform.
 */
const isBinary = (input: object): boolean =>
  ArrayBuffer.isView(input) ||
  [ArrayBuffer, globalThis.SharedArrayBuffer, globalThis.Blob].some((type) => type && input instanceof type);
