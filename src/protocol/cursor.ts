import { readCursor } from './read';
import type { Cursor } from './schemas';

// Cursors travel as base64url JSON without padding, done by hand so the same
// code runs in browsers, workers and Node without Buffer.

/** Encodes a cursor as base64url JSON, the form it has in URLs and SSE ids. */
export function encodeCursor(cursor: Cursor): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(JSON.stringify(cursor))) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes a base64url JSON cursor. Returns `undefined` for anything that is not
 * a valid cursor, so a corrupt value from a URL, header or storage is ignored
 * rather than thrown.
 */
export function decodeCursor(encoded: string): Cursor | undefined {
  if (encoded.length === 0 || encoded.length > 100_000) return undefined;
  try {
    const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return readCursor(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    return undefined;
  }
}
