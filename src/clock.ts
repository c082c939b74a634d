/**
 * The time source every timed part of tabwire takes, so tests drive it with
 * fake timers and the browser can be given `performance.now()`.
 */
export interface Clock {
  /** Milliseconds; only differences matter, so a monotonic source is best. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Wall-clock milliseconds since the epoch (for comparing with server `ts`). */
export type WallClock = () => number;

/** A random source in [0, 1). */
export type RandomSource = () => number;

/**
 * The platform clock. `now` is `performance.now()` where present so a system
 * clock jump cannot shorten or stretch a timeout.
 */
export const systemClock: Clock = {
  now: () => globalThis.performance?.now() ?? Date.now(),
  // The globals as they are at each call, so fake timers installed later apply.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
