/**
 * The longest delay `setTimeout` honours: browsers and Node keep the delay in
 * a signed 32-bit integer and fire a longer one immediately (Node warns and
 * uses 1 ms). Every computed delay is clamped to this.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;
