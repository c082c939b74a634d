/**
 * Runs `fn` and returns what it returns; what it throws is handed to
 * `onThrow` (if any) and the result is `undefined`. Two uses: reading input
 * whose very access may throw (a getter, a revoked Proxy, `JSON.parse`),
 * which then refuses; and running a callback whose bug must not unwind the
 * caller, with `reportListenerError` as `onThrow`.
 */
export function guarded<T>(fn: () => unknown, onThrow?: (error: unknown) => void): T | undefined {
  try {
    return fn() as T | undefined;
  } catch (error) {
    onThrow?.(error);
  }
}
