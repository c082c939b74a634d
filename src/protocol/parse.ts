import { type ServerFrame, serverFrameSchema } from './schemas';

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
  let value: unknown = input;
  if (typeof input === 'string') {
    if (input.length > maxChars) return { ok: false, reason: 'too_large' };
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'not_json' };
    }
  } else if (typeof input !== 'object' || input === null || ArrayBuffer.isView(input) || input instanceof ArrayBuffer) {
    return { ok: false, reason: 'not_text' };
  }
  const result = serverFrameSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: 'invalid', detail: issue ? `${issue.path.join('.')}: ${issue.message}` : undefined };
  }
  return { ok: true, frame: result.data };
}
