import { readCursor } from './read';
import type { Cursor } from './schemas';

// base64url without padding, done by hand so the same code runs in browsers,
// workers and Node without Buffer.
function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(encoded: string): string {
  const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** Encodes a cursor as base64url JSON, the form it has in URLs and SSE ids. */
export function encodeCursor(cursor: Cursor): string {
  return toBase64Url(JSON.stringify(cursor));
}

/**
 * Decodes a base64url JSON cursor. Returns `undefined` for anything that is not
 * a valid cursor, so a corrupt value from a URL, header or storage is ignored
 * rather than thrown.
 */
export function decodeCursor(encoded: string): Cursor | undefined {
  if (encoded.length === 0 || encoded.length > 100_000) return undefined;
  try {
    return readCursor(JSON.parse(fromBase64Url(encoded)));
  } catch {
    return undefined;
  }
}
