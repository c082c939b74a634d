import type { Clock, RandomSource, WallClock } from '../clock';
import { parseRetryAfter } from '../transports/http-errors';
import { retryAfterWait } from '../util/timers';
import { encodeReport, MAX_REPORT_BYTES } from './telemetry-encode';
import type { SliReport } from './telemetry-payload';

/** The parts of a fetch `Response` the reporter reads. */
export interface TelemetryResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
}

/** The `fetch` the reporter calls; the platform's `fetch` fits. */
export type TelemetryFetch = (
  url: string,
  init: {
    method: 'POST';
    keepalive: true;
    headers: Record<string, string>;
    body: string;
    signal?: AbortSignal;
  },
) => Promise<TelemetryResponseLike>;

/** `navigator.sendBeacon`, bound. */
export type SendBeacon = (url: string, data: Blob) => boolean;

/** Options of {@link SliReporter}; the `telemetry` group of `createRealtime` feeds them. */
export interface SliReporterOptions {
  /** Telemetry endpoint, e.g. `/telemetry/client`. */
  url: string;
  /** Time between reports. Integer ms ≥ 1000, default 60000. */
  intervalMs?: number;
  /** This session's sampling decision (see `sampleSession`); `false` makes the reporter inert. */
  sampled: boolean;
  /** Assembles the report to send now (the client's figures cover its whole life; see `windowMs`). */
  collect: () => SliReport;
  /** Default: the global `fetch`. */
  fetch?: TelemetryFetch;
  /** Default: the global `navigator.sendBeacon`, when there is one. */
  sendBeacon?: SendBeacon;
  /** Timers and the backoff's notion of now. */
  clock: Clock;
  /** Epoch ms, to read a `Retry-After` given as an HTTP date. Default `Date.now`. */
  wallClock?: WallClock;
  /** Jitter of the backoff. Default `Math.random`. */
  random?: RandomSource;
  /** Fires `pagehide`. Default: the global `window`, when there is one. */
  window?: EventTarget;
  /** Fires `visibilitychange` and has `visibilityState`. Default: the global `document`. */
  document?: { visibilityState?: string } & Partial<EventTarget>;
  /** Largest body, in UTF-8 bytes. Default 60000 (see `MAX_REPORT_BYTES`). */
  maxBytes?: number;
  /** A request not answered in this long counts as failed and is aborted. Default 30000 (≤ intervalMs). */
  timeoutMs?: number;
}

/** What {@link SliReporter.stats} returns. */
export interface SliReporterStats {
  /** Reports accepted: a 2xx answer, or a beacon the browser queued. */
  readonly sent: number;
  /** Requests that failed: non-2xx, network error or timeout. */
  readonly failed: number;
  /** Sends not made: backing off, a request in flight, a flush right after a send, or no valid report. */
  readonly skipped: number;
  /** HTTP status of the last answer, `'beacon'` after a queued beacon, or why the last request failed. */
  readonly lastStatus: number | 'beacon' | 'network_error' | 'timeout' | undefined;
  /** Why the last report could not be assembled or encoded. */
  readonly lastError: string | undefined;
}

/** Defaults of {@link SliReporterOptions}. */
export const DEFAULT_SLI_REPORTER = { intervalMs: 60_000, timeoutMs: 30_000 } as const;

/** The backoff after failures grows up to this many intervals. */
export const MAX_BACKOFF_INTERVALS = 10;

/**
 * A page-lifecycle flush within this long of the previous send is skipped:
 * closing a tab fires `visibilitychange` and then `pagehide`, and a user
 * flicking between tabs fires a hide each time; one beacon covers them.
 */
export const FLUSH_GAP_MS = 5000;

// Beacons with a type outside the CORS safelist are refused by Chromium
// (crbug.com/490015), so the JSON travels as text/plain; the ingest parses
// the body regardless of its content type.
const BEACON_TYPE = 'text/plain;charset=UTF-8';

function defaultFetch(): TelemetryFetch | undefined {
  return typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined;
}

function defaultBeacon(): SendBeacon | undefined {
  const nav = (globalThis as { navigator?: { sendBeacon?: SendBeacon } }).navigator;
  return typeof nav?.sendBeacon === 'function' ? nav.sendBeacon.bind(nav) : undefined;
}

/**
 * Sends this tab's sampled SLI reports to the telemetry endpoint.
 *
 * Every `intervalMs` it POSTs `encodeReport(collect())` with
 * `fetch(url, { keepalive: true })`; when the page is hidden or unloaded it
 * flushes with `sendBeacon` (falling back to the same fetch), because timers
 * may never run again after that.
 *
 * Telemetry must never hurt what it measures, so:
 * - it never throws or rejects into the caller, whatever `collect`, `fetch`
 *   or the endpoint do;
 * - at most one request is in flight; a tick that finds one skips;
 * - after a failure (non-2xx, network error, timeout) sends are skipped until
 *   both `Retry-After` (at most `MAX_RETRY_AFTER_MS`, 5 minutes) and an
 *   exponential backoff (one interval doubling per consecutive failure,
 *   capped at {@link MAX_BACKOFF_INTERVALS} intervals, with jitter so
 *   browsers do not return in step) have passed — a dead
 *   endpoint sees a handful of requests an hour from each sampled tab;
 * - with `sampled: false` it does nothing at all: no timer, no listener.
 */
export class SliReporter {
  readonly #url: string;
  readonly #intervalMs: number;
  readonly #sampled: boolean;
  readonly #collect: () => SliReport;
  readonly #fetch: TelemetryFetch | undefined;
  readonly #sendBeacon: SendBeacon | undefined;
  readonly #clock: Clock;
  readonly #wallClock: WallClock;
  readonly #random: RandomSource;
  readonly #window: EventTarget | undefined;
  readonly #document: ({ visibilityState?: string } & Partial<EventTarget>) | undefined;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;

  #started = false;
  #timer: unknown;
  #timerArmed = false;
  #inFlight = false;
  /** `send()` came while a request was in flight: send once it settles. */
  #sendAfterFlight = false;
  #consecutiveFailures = 0;
  #blockedUntil = Number.NEGATIVE_INFINITY;
  #lastSendAt: number | undefined;
  #removeListeners: (() => void) | undefined;

  #sent = 0;
  #failed = 0;
  #skipped = 0;
  #lastStatus: SliReporterStats['lastStatus'];
  #lastError: string | undefined;

  // Made by the client from the `telemetry` options, validated once in
  // createRealtime; this lazily loaded module imports nothing the core does.
  constructor(options: SliReporterOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_SLI_REPORTER.intervalMs;
    const maxBytes = options.maxBytes ?? MAX_REPORT_BYTES;
    const timeoutMs = options.timeoutMs ?? Math.min(DEFAULT_SLI_REPORTER.timeoutMs, intervalMs);

    this.#url = options.url;
    this.#intervalMs = intervalMs;
    this.#sampled = options.sampled;
    this.#collect = options.collect;
    this.#fetch = options.fetch ?? defaultFetch();
    this.#sendBeacon = options.sendBeacon ?? defaultBeacon();
    this.#clock = options.clock;
    this.#wallClock = options.wallClock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#window = options.window ?? (globalThis as { window?: EventTarget }).window;
    this.#document =
      options.document ?? (globalThis as { document?: SliReporterOptions['document'] }).document;
    this.#maxBytes = maxBytes;
    this.#timeoutMs = timeoutMs;
  }

  /** Starts the interval and the page-lifecycle flush. Idempotent; nothing when not sampled. */
  start(): void {
    if (!this.#sampled || this.#started) return;
    this.#started = true;
    this.#listen();
    this.#schedule();
  }

  /** Stops the interval and removes the listeners. A request in flight is left to finish. */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#removeListeners?.();
    this.#removeListeners = undefined;
    if (this.#timerArmed) {
      this.#timerArmed = false;
      this.#clock.clearTimeout(this.#timer);
    }
  }

  /**
   * Sends the current report now with `sendBeacon` (or, when there is none
   * or it refuses, `fetch` keepalive) — for the page going away. Respects
   * the backoff; nothing when not sampled. Never throws.
   */
  flush(): void {
    this.#flush(false, true);
  }

  /**
   * Sends the current report now with `fetch` keepalive — for `close()`,
   * where the page lives on, so a beacon buys nothing and a failure should be
   * seen and counted. With a request in flight it goes once that one has
   * settled, so the report with the session's last figures is not lost.
   * Respects the backoff; nothing when not sampled. Never throws.
   * `throttled` (a tab going idle, which may happen often): like a lifecycle
   * flush, nothing within FLUSH_GAP_MS of the last send or while one is in
   * flight, so a page toggling realtime does not send a report per toggle.
   */
  send(throttled = false): void {
    if (this.#inFlight) {
      if (this.#sampled && !throttled) this.#sendAfterFlight = true;
      return;
    }
    this.#flush(throttled, false);
  }

  /** Counters of what the reporter did. */
  stats(): SliReporterStats {
    return {
      sent: this.#sent,
      failed: this.#failed,
      skipped: this.#skipped,
      lastStatus: this.#lastStatus,
      lastError: this.#lastError,
    };
  }

  #schedule(): void {
    this.#timerArmed = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      if (!this.#started) return;
      // Re-arm first, so nothing below can end the chain.
      this.#schedule();
      this.#tick();
    }, this.#intervalMs);
  }

  #tick(): void {
    if (this.#inFlight || this.#backingOff()) {
      this.#skipped += 1;
      return;
    }
    const body = this.#encode();
    if (body === undefined) return;
    void this.#post(body);
  }

  #flush(fromLifecycle: boolean, viaBeacon: boolean): void {
    if (!this.#sampled) return;
    const now = this.#clock.now();
    const tooSoon = fromLifecycle && this.#lastSendAt !== undefined && now - this.#lastSendAt < FLUSH_GAP_MS;
    if (tooSoon || this.#backingOff()) {
      this.#skipped += 1;
      return;
    }
    const body = this.#encode();
    if (body === undefined) return;
    if (viaBeacon && this.#beacon(body)) {
      this.#lastSendAt = now;
      this.#sent += 1;
      this.#lastStatus = 'beacon';
      // Accepted, as a 2xx is: the run of failures is over, and a failure
      // after it backs off as a first one (not past the block: checked above).
      this.#consecutiveFailures = 0;
      return;
    }
    if (this.#inFlight) {
      this.#skipped += 1;
      return;
    }
    void this.#post(body);
  }

  #beacon(body: string): boolean {
    if (this.#sendBeacon === undefined || typeof Blob === 'undefined') return false;
    try {
      return this.#sendBeacon(this.#url, new Blob([body], { type: BEACON_TYPE }));
    } catch {
      // Some browsers throw instead of returning false (e.g. over the quota).
      return false;
    }
  }

  #backingOff(): boolean {
    return this.#clock.now() < this.#blockedUntil;
  }

  // The report as JSON, or undefined (counted as skipped) when `collect`
  // throws or its report is invalid or cannot fit.
  #encode(): string | undefined {
    try {
      return encodeReport(this.#collect(), this.#maxBytes);
    } catch (error) {
      this.#skipped += 1;
      this.#lastError = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  // Never rejects: every path ends in #settle.
  async #post(body: string): Promise<void> {
    const doFetch = this.#fetch;
    if (doFetch === undefined) {
      this.#skipped += 1;
      return;
    }
    this.#inFlight = true;
    this.#lastSendAt = this.#clock.now();
    const controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    let settled = false;
    const settle = (status: number | 'network_error' | 'timeout', retryAfterMs?: number) => {
      if (settled) return;
      settled = true;
      this.#clock.clearTimeout(timeout);
      this.#inFlight = false;
      this.#record(status, retryAfterMs);
      if (this.#sendAfterFlight) {
        this.#sendAfterFlight = false;
        this.#flush(false, false);
      }
    };
    const timeout = this.#clock.setTimeout(() => {
      settle('timeout');
      controller?.abort();
    }, this.#timeoutMs);

    try {
      const init = {
        method: 'POST' as const,
        keepalive: true as const,
        headers: { 'content-type': 'application/json' },
        body,
      };
      const response = await doFetch(this.#url, controller ? { ...init, signal: controller.signal } : init);
      // The answer's body is never needed; cancelling frees the connection.
      response.body?.cancel().catch(() => {});
      const ok = response.status >= 200 && response.status <= 299;
      settle(
        response.status,
        ok ? undefined : parseRetryAfter(response.headers.get('retry-after'), this.#wallClock()),
      );
    } catch {
      settle('network_error');
    }
  }

  #record(status: number | 'network_error' | 'timeout', retryAfterMs: number | undefined): void {
    this.#lastStatus = status;
    if (typeof status === 'number' && status >= 200 && status <= 299) {
      this.#sent += 1;
      this.#consecutiveFailures = 0;
      this.#blockedUntil = Number.NEGATIVE_INFINITY;
      return;
    }
    this.#failed += 1;
    this.#consecutiveFailures += 1;
    // Equal jitter: at least half the backoff, so the spacing really grows.
    const exponent = Math.min(this.#consecutiveFailures, 30);
    const ceiling = Math.min(this.#intervalMs * 2 ** exponent, this.#intervalMs * MAX_BACKOFF_INTERVALS);
    const backoffMs = ceiling / 2 + (ceiling / 2) * this.#random();
    this.#blockedUntil = this.#clock.now() + Math.max(backoffMs, retryAfterWait(retryAfterMs));
  }

  #listen(): void {
    const removers: Array<() => void> = [];
    const on = (target: Partial<EventTarget> | undefined, type: string, fn: () => void) => {
      if (!target?.addEventListener || !target.removeEventListener) return;
      target.addEventListener(type, fn);
      removers.push(() => target.removeEventListener?.(type, fn));
    };
    const doc = this.#document;
    on(doc, 'visibilitychange', () => {
      if (doc?.visibilityState === 'hidden') this.#flush(true, true);
    });
    on(this.#window, 'pagehide', () => this.#flush(true, true));
    this.#removeListeners = () => {
      for (const remove of removers.splice(0)) remove();
    };
  }
}
