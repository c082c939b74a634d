import type { RealtimeError } from '../errors';
import type { ErrorResponseLike } from './http-request';
import type { TransportKit } from './kit';

/** One dispatched `text/event-stream` message. */
export interface SseMessage {
  /** The `event` field, or `'message'` when the message had none. */
  event: string;
  /** Every `data` line of the message, joined with `\n`. */
  data: string;
  /**
   * The stream's last event ID when the message was dispatched, as
   * `EventSource.lastEventId` would give it (an `id` persists across messages
   * until the next `id` field). Absent while it is empty.
   */
  id?: string;
  /** The `retry` field of this message, in milliseconds, when it had a valid one. */
  retry?: number;
}

/** What {@link SseParser} reports when a message outgrows its bound. */
export interface SseOverflow {
  /** The bound that was exceeded, in UTF-16 code units. */
  maxLineChars: number;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /**
   * Longest line, and longest `data` of one message, kept in memory, in UTF-16
   * code units. Default 16 Mi. A message that exceeds it is discarded whole and
   * reported through `onOverflow`.
   */
  maxLineChars?: number;
  /** Called once per discarded message. */
  onOverflow?(overflow: SseOverflow): void;
}

/** Default of {@link SseParserOptions.maxLineChars}: the same as the core's largest frame. */
export const DEFAULT_SSE_MAX_LINE_CHARS = 16 * 1024 * 1024;

const LF = 10;
const CR = 13;
const BOM = 0xfeff;
const ALL_DIGITS = /^[0-9]+$/;
// A line end: CRLF, CR or LF. Its `lastIndex` is set before each search, so
// a parser called back into from `onMessage` cannot lose its place.
const LINE_END = /\r\n?|\n/g;
// A line's field name, then its value without the one leading space the spec
// strips. A line without a colon is all name; a comment has an empty name.
const FIELD = /^([^:]*):? ?(.*)$/s;

/**
 * An incremental `text/event-stream` parser following the WHATWG HTML
 * "event stream interpretation" rules: CR, LF and CRLF line ends (also split
 * across chunks), comments, fields without a colon, one leading space of a
 * value stripped, `id` with NUL ignored, `retry` only when all digits, a
 * leading BOM dropped, and a message dispatched only at a blank line and only
 * when it had a `data` field.
 *
 * Chunks may be split anywhere, including inside a multi-byte UTF-8 character.
 * Each chunk is scanned once; a line arriving in many pieces is appended to
 * piece by piece, which engines do without copying (a rope, flattened once
 * when the line is read), so a long line costs O(length).
 */
export class SseParser {
  /** The reconnection time the stream asked for most recently, if any (the core owns reconnect timing). */
  retry: number | undefined;
  /** The stream's last event ID buffer. */
  lastEventId = '';

  readonly #onMessage: (message: SseMessage) => void;
  readonly #maxLineChars: number;
  readonly #onOverflow: ((overflow: SseOverflow) => void) | undefined;
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  // The unfinished line so far, or `undefined` while the rest of a line that
  // overflowed is dropped.
  #line: string | undefined = '';
  // The character dropped when the next chunk starts with it: the BOM at the
  // start of a stream, or after a chunk that ended with CR the LF of that CRLF
  // (-1: none).
  #dropFirst = BOM;
  // Every line until the next blank line is dropped (its message overflowed).
  #discardingMessage = false;

  // The message being read: its data (`undefined` until a `data` field), event type and retry.
  #data: string | undefined;
  #eventType = '';
  #messageRetry: number | undefined;

  /**
   * @param onMessage receives each dispatched message, synchronously from
   *   `push`. An exception it throws propagates out of `push`.
   * @throws RangeError unless `maxLineChars` is a positive safe integer
   *   (default build only).
   */
  constructor(onMessage: (message: SseMessage) => void, options: SseParserOptions = {}) {
    const maxLineChars = options.maxLineChars ?? DEFAULT_SSE_MAX_LINE_CHARS;
    // Development-only: the SSE transport derives the bound from its options
    // (at least the default); only a caller's mistake, or an option the
    // production build trusted unchecked, fails it.
    if (process.env.NODE_ENV !== 'production' && (!Number.isSafeInteger(maxLineChars) || maxLineChars < 1)) {
      throw new RangeError(`maxLineChars must be a positive integer, got ${String(maxLineChars)}`);
    }
    this.#onMessage = onMessage;
    this.#maxLineChars = maxLineChars;
    this.#onOverflow = options.onOverflow;
  }

  /** Feeds the next chunk of the stream: bytes (UTF-8) or already-decoded text. */
  push(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    // An empty chunk (bytes that only began a character) must not touch #dropFirst.
    if (text === '') return;
    let pos = text.charCodeAt(0) === this.#dropFirst ? 1 : 0;
    // Any CR is a line end, so one ending the chunk is matched below.
    this.#dropFirst = text.charCodeAt(text.length - 1) === CR ? LF : -1;
    for (;;) {
      LINE_END.lastIndex = pos;
      const lineEnd = LINE_END.exec(text);
      if (this.#line !== undefined) {
        this.#line += text.slice(pos, lineEnd?.index);
        if (this.#line.length > this.#maxLineChars) {
          // Dropped whole: what was kept of it must not start the line after
          // it (the blank line that ends the discarded message).
          this.#line = undefined;
          this.#overflow();
        }
      }
      if (lineEnd === null) return;
      pos = lineEnd.index + lineEnd[0].length;
      const line = this.#line;
      this.#line = '';
      // An `undefined` line overflowed and was dropped; the lines of a
      // discarded message are dropped until the blank line that ends it.
      if (line === '') this.#dispatch();
      else if (line !== undefined && !this.#discardingMessage) this.#readField(line);
    }
  }

  /**
   * Ends the stream. Per the spec an unfinished message (no blank line yet) is
   * discarded. The parser is then ready for a new stream; `lastEventId` and
   * `retry` are kept, as an `EventSource` keeps them across reconnects.
   */
  end(): void {
    this.#decoder.decode();
    this.#line = '';
    this.#dropFirst = BOM;
    this.#discardingMessage = false;
    this.#resetMessage();
  }

  #readField(line: string): void {
    // FIELD matches every line: the fallbacks are for the type checker.
    const [, name, value = ''] = FIELD.exec(line) ?? [];
    switch (name) {
      case 'data':
        this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
        if (this.#data.length > this.#maxLineChars) this.#overflow();
        break;
      case 'event':
        this.#eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (ALL_DIGITS.test(value)) this.retry = this.#messageRetry = Number(value);
    }
    // Any other field, and a comment (an empty name), is ignored, as the spec says.
  }

  #dispatch(): void {
    // A discarded message has no data: #overflow reset it, and no line is read until here.
    const data = this.#data;
    let message: SseMessage | undefined;
    if (data !== undefined) {
      message = { event: this.#eventType || 'message', data };
      if (this.lastEventId !== '') message.id = this.lastEventId;
      if (this.#messageRetry !== undefined) message.retry = this.#messageRetry;
    }
    this.#discardingMessage = false;
    this.#resetMessage();
    if (message !== undefined) this.#onMessage(message);
  }

  #overflow(): void {
    // Drop what the message gathered so far too: a frame missing a line is a
    // wrong frame, and an oversized one would be refused by the core anyway.
    this.#resetMessage();
    if (this.#discardingMessage) return;
    this.#discardingMessage = true;
    this.#onOverflow?.({ maxLineChars: this.#maxLineChars });
  }

  #resetMessage(): void {
    this.#data = undefined;
    this.#eventType = '';
    this.#messageRetry = undefined;
  }
}

// The checks of the answer that should carry the stream. They are here rather
// than in sse.ts, whose exports its chunk must keep by name (it is loaded with
// import()), or in http-request.ts, which the long-poll transport loads too.

/** True when the response's content type is `mediaType` (parameters such as `charset` ignored). */
export function hasContentType(response: ErrorResponseLike, mediaType: string): boolean {
  // The media type is what comes before the first `;`; a missing header gives `undefined`.
  return response.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase() === mediaType;
}

/** The error for a 2xx answer whose content type is not the one the transport speaks. */
export function unexpectedContentType(
  response: ErrorResponseLike,
  expected: string,
  kit: TransportKit,
): RealtimeError {
  response.body?.cancel().catch(() => {});
  const got = response.headers.get('content-type') ?? 'none';
  return kit.unavailable(`expected ${expected}, got content type ${got}`, { status: response.status });
}
