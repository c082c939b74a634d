/**
 * `bytes` in base64url without padding: `A-Z a-z 0-9 - _`. Done by hand so
 * the same code runs in browsers, workers and Node without Buffer.
 */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A random id of 21 URL-safe characters (126 bits): tab ids, session ids,
 * mutation ids, the names of resets a leader relays. The first 21 base64url
 * characters of 16 random bytes, each 6 uniform bits (the 22nd would carry
 * 2). From the platform's `crypto.getRandomValues`, which browsers, workers
 * and Node ≥ 19 all have as a global, so no build of a package (a Node one,
 * which imports `node:crypto`) ends up in a browser bundle.
 *
 * Not the injected `random` of the options: ids must differ between tabs
 * even where tests give every tab the same seeded random.
 */
export function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16))).slice(0, 21);
}
