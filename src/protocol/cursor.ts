import { base64url } from '../util/random-id';
import { readCursor } from './read';
import type { Cursor } from './schemas';

// Cursors travel as base64url JSON without padding (util/random-id.ts).

/** Encodes a cursor as base64url JSON, the form it has in URLs and SSE ids. */
export function encodeCursor(cursor: Cursor): string {
  return base64url(new TextEncoder().encode(JSON.stringify(cursor)));
}

/**
 * Longest encoded cursor {@link decodeCursor} reads: it bounds the work spent
 * on untrusted input. HTTP refuses far shorter ones first (the cursor rides
 * in the URL, and over SSE in `Last-Event-ID` too; Node and common proxies
 * allow 8–16 KiB for the request line and headers), so raising it would let
 * no real subscription through. docs/protocol.md, "Cursor size".
 */
export const MAX_CURSOR_LENGTH = 100_000;

/**
 * Decodes a base64url JSON cursor. Returns `undefined` for anything that is not
 * a valid cursor, so a corrupt value from a URL, header or storage is ignored
 * rather than thrown; also for one longer than {@link MAX_CURSOR_LENGTH}
 * characters.
 */
export function decodeCursor(encoded: string): Cursor | undefined {
  if (encoded.length === 0 || encoded.length > MAX_CURSOR_LENGTH) return undefined;
  try {
    const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return readCursor(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    return undefined;
  }
}
