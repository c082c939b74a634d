/**
 * URL-safe characters, 64 of them, so one random byte's low 6 bits pick one
 * with no bias. (nanoid's alphabet, in its order: ids keep their old look.)
 */
const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';

/**
 * A random id of 21 URL-safe characters (126 bits): tab ids, session ids,
 * mutation ids, the names of resets a leader relays. From the platform's
 * `crypto.getRandomValues`, which browsers, workers and Node ≥ 19 all have
 * as a global, so no build of a package (a Node one, which imports
 * `node:crypto`) ends up in a browser bundle.
 *
 * Not the injected `random` of the options: ids must differ between tabs
 * even where tests give every tab the same seeded random.
 */
export function randomId(): string {
  let id = '';
  for (const byte of crypto.getRandomValues(new Uint8Array(21))) id += ALPHABET[byte & 63];
  return id;
}
