/**
 * The longest delay `setTimeout` honours: browsers and Node keep the delay in
 * a signed 32-bit integer and fire a longer one immediately (Node warns and
 * uses 1 ms). Every computed delay is clamped to this.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * The longest a server's `retryAfterMs` / `Retry-After` holds a retry back:
 * 5 minutes. A proxy's `Retry-After: 86400`, or milliseconds sent where
 * seconds were meant, would otherwise take realtime (or the flags that can
 * switch it off) away for a day or for good, where a retry every 5 minutes
 * costs an overloaded server nothing.
 */
export const MAX_RETRY_AFTER_MS = 300_000;

/** A server's retry wait as honoured: at most {@link MAX_RETRY_AFTER_MS}; 0 for none, a negative or NaN. */
export function retryAfterWait(ms: number | undefined): number {
  return ms !== undefined && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0;
}
