import type { RandomSource } from '../clock';
import { guarded } from '../util/guarded';

/** Share of sessions that report SLIs when nothing else is configured: 2 %. */
export const DEFAULT_SAMPLE_RATE = 0.02;

/** `sessionStorage` key under which the session's draw is kept, by default. */
export const SAMPLING_STORAGE_KEY = 'tabwire:sli-draw';

/** The part of `sessionStorage` sampling uses. */
export interface SamplingStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Options of {@link sampleSession}. */
export interface SampleSessionOptions {
  /**
   * Where the draw is kept for the session: `sessionStorage` in a browser.
   * Without it every call draws afresh (one decision per page load).
   */
  storage?: SamplingStorage;
  /** Storage key, non-empty; default {@link SAMPLING_STORAGE_KEY}. Separate apps on one origin may pass their own. */
  key?: string;
}

/**
 * Decides whether this session reports SLIs: `true` for about `rate` of
 * sessions (0..1, e.g. 0.02 for 2 %).
 *
 * The session's random draw — not the yes/no — is kept in `storage`
 * (`sessionStorage`), so every reload and tab of the session in which the
 * draw was stored agrees, and changing `rate` behaves as expected: a session
 * with draw `d` is sampled exactly when `d < rate`, so raising the rate only
 * adds sessions and a rate of 0 stops every one of them. A missing, corrupt
 * or unreadable stored value is replaced by a fresh draw.
 *
 * @param rate Share of sessions to sample, 0..1: `telemetry.sampleRate`,
 * checked once by `resolveOptions`, so not again here.
 * @param random Source of the draw, in [0, 1).
 */
export function sampleSession(
  rate: number,
  random: RandomSource,
  { storage, key = SAMPLING_STORAGE_KEY }: SampleSessionOptions = {},
): boolean {
  let draw = NaN;
  // Storage can throw (blocked cookies, Safari private mode): sample without it.
  guarded(() => {
    const text = storage?.getItem(key);
    // `Number` reads '' and '  ' as 0: they are no draw.
    if (text?.trim()) draw = Number(text);
  });
  // A stored draw is a number in [0, 1) as `String(number)` wrote it; anything
  // else (another app's value, a hand edit, a truncated write) is replaced.
  if (!(draw >= 0 && draw < 1)) {
    draw = random();
    // A broken random source must not make every session report.
    if (!(draw >= 0 && draw < 1)) draw = 0.999_999;
    // Full or blocked storage: this page load still decides, reloads draw again.
    guarded(() => storage?.setItem(key, String(draw)));
  }
  return draw < rate;
}
