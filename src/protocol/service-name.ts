// A module of constants and one pure function: the lazy parts may bundle a
// copy of it (scripts/lazy-parts.mjs, DUPLICATE_OK), as the flags poller
// does to read the tabs' `disabledServices`.

/**
 * A service name: letters, digits, `_ . : -`, 1..100 chars, never one of the
 * names that would reach Object.prototype if used as a plain-object key.
 */
export const SERVICE_NAME_PATTERN = /^(?!__proto__$|constructor$|prototype$)[A-Za-z0-9_.:-]{1,100}$/;

/** `serviceNameSchema`. */
export function isServiceName(value: unknown): value is string {
  return typeof value === 'string' && SERVICE_NAME_PATTERN.test(value);
}
