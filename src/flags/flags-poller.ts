import type { Clock, WallClock } from '../clock';
import { isServiceName } from '../protocol/service-name';
import type { ResolvedFlags } from '../state';
import { parseRetryAfter } from '../transports/http-errors';
import { MAX_TIMER_DELAY_MS, retryAfterWait } from '../util/timers';
import { readFlagsDocument } from './read-flags';

/** The parts of a fetch `Response` the poller reads. */
export interface FlagsResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
  text(): Promise<string>;
}

/** The `fetch` the poller calls; the platform's `fetch` fits. */
export type FlagsFetch = (
  url: string,
  init: { method: 'GET'; cache: 'no-cache'; headers: Record<string, string>; signal?: AbortSignal },
) => Promise<FlagsResponseLike>;

/** Options of {@link FlagsPoller}. */
export interface FlagsPollerOptions {
  /** URL of a JSON document of (partial) flags. */
  url: string;
  /** Time between polls. Integer ms ≥ 1000, default 30000. */
  intervalMs?: number;
  /** Default: the global `fetch`. */
  fetch?: FlagsFetch;
  /** Timers of the polls. */
  clock: Clock;
  /** Epoch ms, to read a `Retry-After` given as an HTTP date. Default `Date.now`. */
  wallClock?: WallClock;
  /**
   * The document as another tab's poller knows it (the leader's answer to
   * this tab's hello), if this tab heard it before the poller was made: see
   * {@link FlagsPoller.heard}.
   */
  known?: Partial<ResolvedFlags>;
  /** Called with a valid document that differs from the last good one (e.g. `rt.setFlags`). */
  onFlags: (flags: Partial<ResolvedFlags>) => void;
  /** Called when a poll is ignored, with why. Default `console.warn`. */
  onInvalid?: (reason: string) => void;
  /**
   * Called once per poll that failed or was refused (whenever `onInvalid`
   * is), with no reason: to count them where an operator looks.
   */
  onIgnored?: () => void;
  /** A poll not answered in this long is abandoned (and aborted). Default 10000 (≤ intervalMs). */
  timeoutMs?: number;
}

/** Defaults of {@link FlagsPollerOptions}. */
export const DEFAULT_FLAGS_POLLER = { intervalMs: 30_000, timeoutMs: 10_000 } as const;

/**
 * After failed polls the delay doubles up to this many intervals (or longer
 * if `Retry-After` says so, up to 5 minutes).
 */
export const MAX_POLL_BACKOFF_INTERVALS = 10;

const FLAG_KEYS = [
  'enabled',
  'emergencyDisable',
  'disabledOrgs',
  'rolloutPercent',
  'shadowMode',
  'disabledServices',
] as const;

type Outcome =
  | { kind: 'flags'; flags: Partial<ResolvedFlags> }
  | { kind: 'invalid'; reason: string }
  | { kind: 'failed'; reason: string; retryAfterMs?: number };

// A stable text of a flags document: fixed key order, lists sorted, so a
// server that reorders keys or list items is not taken for a change.
function flagsKey(flags: Partial<ResolvedFlags>): string {
  return JSON.stringify(
    FLAG_KEYS.map((key) => {
      const value = flags[key];
      return Array.isArray(value) ? [...value].sort() : (value ?? null);
    }),
  );
}

function defaultFetch(): FlagsFetch | undefined {
  return typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined;
}

/**
 * Polls a flags URL so kill switches and rollout changes reach open pages
 * without a deploy.
 *
 * Each poll GETs the URL and validates the JSON body with
 * `readFlagsDocument` (the reader held to
 * `flagsPayloadSchema`). `onFlags` is called only with a valid document
 * that differs from the last good one; an invalid document, an HTTP error or
 * a network error is reported to `onInvalid` and `onIgnored` and otherwise
 * ignored, so the last good flags stay in force — a broken flags endpoint
 * must not flip a kill switch. After HTTP and network errors the next poll
 * waits longer (doubling, up to {@link MAX_POLL_BACKOFF_INTERVALS} intervals) and never
 * sooner than a `Retry-After` (of at most `MAX_RETRY_AFTER_MS`, 5 minutes:
 * a proxy's day-long one must not hide a kill switch). At most one poll is
 * in flight; the next is timed from the end of the previous one.
 */
export class FlagsPoller {
  readonly #url: string;
  readonly #intervalMs: number;
  readonly #fetch: FlagsFetch | undefined;
  readonly #clock: Clock;
  readonly #wallClock: WallClock;
  readonly #onFlags: (flags: Partial<ResolvedFlags>) => void;
  readonly #onInvalid: (reason: string) => void;
  readonly #onIgnored: (() => void) | undefined;
  readonly #timeoutMs: number;

  #started = false;
  // Bumped by stop(), so a poll still in flight then delivers nothing.
  #generation = 0;
  #timer: unknown;
  #timerArmed = false;
  #inFlight: Promise<void> | undefined;
  #controller: AbortController | undefined;
  #failures = 0;
  #lastGood: Partial<ResolvedFlags> | undefined;
  #lastGoodKey: string | undefined;

  // createRealtime made these options from `flagsUrl`, validated there once;
  // the poller is loaded on demand and imports nothing the core also does, so
  // it adds no shared chunk to every app's bundle.
  constructor(options: FlagsPollerOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_FLAGS_POLLER.intervalMs;
    const timeoutMs = options.timeoutMs ?? Math.min(DEFAULT_FLAGS_POLLER.timeoutMs, intervalMs);
    this.#url = options.url;
    this.#intervalMs = intervalMs;
    this.#fetch = options.fetch ?? defaultFetch();
    this.#clock = options.clock;
    this.#wallClock = options.wallClock ?? Date.now;
    this.#onFlags = options.onFlags;
    this.#onInvalid =
      options.onInvalid ??
      ((reason) => console.warn(`tabwire: flags from ${this.#url} ignored, last good kept: ${reason}`));
    this.#onIgnored = options.onIgnored;
    this.#timeoutMs = timeoutMs;
    if (options.known) this.#take(options.known);
  }

  /** The last valid document, or `undefined` before the first. */
  get lastGood(): Partial<ResolvedFlags> | undefined {
    return this.#lastGood;
  }

  /**
   * Another tab's `flags` message: those named in `fromUrl` it read from
   * the flags URL, maybe later (or earlier) than this poller did, and a
   * change (not `direct`) of its document left out the others. Taken as the
   * last document's, so a next document that differs is a change: the
   * switch came and went between two polls here, or came back. Before the
   * first document, and from a tab that says nothing of its URL: nothing.
   *
   * `known`: the document as the leader's poller knows it (its answer to
   * this tab's hello), taken for the last one while this poller has none: a
   * first poll of the unchanged document is then no change, and does not
   * undo in every tab a `setFlags` made against it. A changed one still is.
   */
  heard(
    flags: Partial<ResolvedFlags>,
    direct: boolean,
    fromUrl?: readonly string[],
    known?: Partial<ResolvedFlags>,
  ): void {
    if (!this.#lastGood && known) this.#take(known);
    if (!this.#lastGood || !fromUrl) return;
    const last: Record<string, unknown> = { ...this.#lastGood };
    for (const key in flags) {
      const value = flags[key as keyof ResolvedFlags];
      if (fromUrl.includes(key)) {
        // The tabs' messages carry service names only: a list that is ours
        // without the names that are none is still our document's, and taken
        // as it came, the next poll of the unchanged document was a change
        // that undid a setFlags in every tab.
        const ours = last[key];
        const oursAsHeard =
          key === 'disabledServices' &&
          Array.isArray(ours) &&
          flagsKey({ disabledServices: ours.filter(isServiceName) }) ===
            flagsKey({ disabledServices: value as string[] });
        if (!oursAsHeard) last[key] = value;
      } else if (!direct) delete last[key];
    }
    this.#take(last);
  }

  #take(document: Partial<ResolvedFlags>): void {
    this.#lastGood = document;
    this.#lastGoodKey = flagsKey(document);
  }

  /** Polls at once, then every `intervalMs`. Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#inFlight === undefined) void this.pollNow();
  }

  /** Stops polling; a poll in flight is abandoned and calls nothing. */
  stop(): void {
    if (!this.#started && this.#inFlight === undefined) return;
    this.#started = false;
    this.#generation += 1;
    this.#inFlight = undefined;
    // Abort it so a later start() never has two requests out at once.
    this.#controller?.abort();
    this.#controller = undefined;
    this.#clearTimer();
  }

  /**
   * Polls now (or joins the poll in flight) and resolves when it is done.
   * Never rejects. While started, the next poll is timed from this one.
   */
  pollNow(): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#clearTimer();
    const generation = this.#generation;
    const poll = this.#poll().then((outcome) => {
      if (generation !== this.#generation) return;
      this.#inFlight = undefined;
      const delay = this.#handle(outcome);
      if (this.#started) this.#schedule(delay);
    });
    this.#inFlight = poll;
    return poll;
  }

  // Applies an outcome; returns the delay until the next poll.
  #handle(outcome: Outcome): number {
    if (outcome.kind === 'failed') {
      this.#failures += 1;
      this.#warn(outcome.reason);
      const exponent = Math.min(this.#failures, 30);
      const backoff = Math.min(
        this.#intervalMs * 2 ** exponent,
        this.#intervalMs * MAX_POLL_BACKOFF_INTERVALS,
      );
      return Math.min(Math.max(backoff, retryAfterWait(outcome.retryAfterMs)), MAX_TIMER_DELAY_MS);
    }
    this.#failures = 0;
    if (outcome.kind === 'invalid') {
      this.#warn(outcome.reason);
      return this.#intervalMs;
    }
    const key = flagsKey(outcome.flags);
    if (key !== this.#lastGoodKey) {
      try {
        this.#onFlags(outcome.flags);
        // Only once applied: if onFlags threw, the next poll offers them again.
        this.#take(outcome.flags);
      } catch (error) {
        this.#warn(`onFlags threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return this.#intervalMs;
  }

  #warn(reason: string): void {
    // Apart: a throwing reporter must neither stop the polling nor keep
    // the other one from hearing of it.
    try {
      this.#onIgnored?.();
    } catch {}
    try {
      this.#onInvalid(reason);
    } catch {}
  }

  // One request, raced against the timeout. Never rejects.
  async #poll(): Promise<Outcome> {
    const doFetch = this.#fetch;
    if (doFetch === undefined) return { kind: 'failed', reason: 'no fetch available' };
    const controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    this.#controller = controller;
    let timer: unknown;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = this.#clock.setTimeout(() => {
        controller?.abort();
        resolve({ kind: 'failed', reason: `no answer within ${this.#timeoutMs} ms` });
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#request(doFetch, controller?.signal), timeout]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  async #request(doFetch: FlagsFetch, signal: AbortSignal | undefined): Promise<Outcome> {
    try {
      // Revalidated at every poll: a document served with a validator but no
      // Cache-Control (any static file) is otherwise fresh for a tenth of its
      // age in the browser's HTTP cache, so an edit (a kill switch thrown or
      // lifted) would not reach open pages for hours or days. An ETag keeps
      // the revalidation a 304.
      const init = {
        method: 'GET' as const,
        cache: 'no-cache' as const,
        headers: { accept: 'application/json' },
      };
      const response = await doFetch(this.#url, signal ? { ...init, signal } : init);
      if (response.status < 200 || response.status > 299) {
        response.body?.cancel().catch(() => {});
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#wallClock());
        return { kind: 'failed', reason: `HTTP ${response.status}`, retryAfterMs };
      }
      const text = await response.text();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return { kind: 'invalid', reason: 'body is not JSON' };
      }
      const flags = readFlagsDocument(value);
      return typeof flags === 'string' ? { kind: 'invalid', reason: flags } : { kind: 'flags', flags };
    } catch (error) {
      return {
        kind: 'failed',
        reason: `request failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#timerArmed = true;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timerArmed = false;
      if (this.#started) void this.pollNow();
    }, delayMs);
  }

  #clearTimer(): void {
    if (!this.#timerArmed) return;
    this.#timerArmed = false;
    this.#clock.clearTimeout(this.#timer);
  }
}
