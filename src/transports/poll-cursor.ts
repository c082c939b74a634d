import type { Cursor } from '../protocol/schemas';

// How long-poll reads the cursors of an answer's frames before the core has
// checked them: the transport (long-poll.ts) and the backend checker
// (src/conformance) judge an answer by the same rule. Not core: the
// long-poll file bundles its own copy.

/** The cursor past an answer's frames (a welcome's is where it starts). */
export function pastOf(frames: unknown[]): Cursor {
  const past = Object.create(null) as Cursor;
  for (const frame of frames) {
    if ((frame as { type?: unknown } | null)?.type !== 'welcome') {
      mergeCursor(past, (frame as { cursor?: unknown } | null)?.cursor);
    }
  }
  return past;
}

// Names the cursor schema refuses: they would reach Object.prototype.
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Copies the numeric entries of a frame's cursor. The frame is not validated
 * here (the core does that), so prototype keys are skipped.
 */
export function mergeCursor(into: Cursor, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const key of Object.keys(from)) {
    const seq = (from as Record<string, unknown>)[key];
    if (typeof seq === 'number' && !PROTOTYPE_KEYS.has(key)) into[key] = seq;
  }
}
