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
const SPACE = 32;
const BOM = 0xfeff;
const ALL_DIGITS = /^[0-9]+$/;

/** True when the line's field name (before the colon at `colon`) is `name`, without slicing it out. */
function fieldIs(line: string, colon: number, name: string): boolean {
  return colon === name.length && line.startsWith(name);
}

/**
 * An incremental `text/event-stream` parser following the WHATWG HTML
 * "event stream interpretation" rules: CR, LF and CRLF line ends (also split
 * across chunks), comments, fields without a colon, one leading space of a
 * value stripped, `id` with NUL ignored, `retry` only when all digits, a
 * leading BOM dropped, and a message dispatched only at a blank line and only
 * when it had a `data` field.
 *
 * Chunks may be split anywhere, including inside a multi-byte UTF-8 character.
 * Each chunk is scanned once; a line arriving in many pieces is kept as a list
 * of pieces and joined once at its end, so a long line costs O(length).
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

  // The unfinished line: pieces from earlier chunks, joined only once it ends.
  #pending: string[] = [];
  #pendingChars = 0;
  // A chunk ended with CR: an LF at the start of the next chunk belongs to it.
  #skipLeadingLf = false;
  #sawFirstChar = false;
  // The rest of the current line is dropped (it overflowed).
  #discardingLine = false;
  // Every line until the next blank line is dropped (its message overflowed).
  #discardingMessage = false;

  #data = '';
  #hasData = false;
  #eventType = '';
  #messageRetry: number | undefined;

  /**
   * @param onMessage receives each dispatched message, synchronously from
   *   `push`. An exception it throws propagates out of `push`.
   */
  constructor(onMessage: (message: SseMessage) => void, options: SseParserOptions = {}) {
    const maxLineChars = options.maxLineChars ?? DEFAULT_SSE_MAX_LINE_CHARS;
    if (!Number.isSafeInteger(maxLineChars) || maxLineChars < 1) {
      throw new RangeError(`maxLineChars must be a positive integer, got ${String(maxLineChars)}`);
    }
    this.#onMessage = onMessage;
    this.#maxLineChars = maxLineChars;
    this.#onOverflow = options.onOverflow;
  }

  /** Feeds the next chunk of the stream: bytes (UTF-8) or already-decoded text. */
  push(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (text.length > 0) this.#scan(text);
  }

  /**
   * Ends the stream. Per the spec an unfinished message (no blank line yet) is
   * discarded. The parser is then ready for a new stream; `lastEventId` and
   * `retry` are kept, as an `EventSource` keeps them across reconnects.
   */
  end(): void {
    this.#decoder.decode();
    this.#pending = [];
    this.#pendingChars = 0;
    this.#skipLeadingLf = false;
    this.#sawFirstChar = false;
    this.#discardingLine = false;
    this.#discardingMessage = false;
    this.#resetMessage();
  }

  #scan(text: string): void {
    let pos = 0;
    const length = text.length;
    if (!this.#sawFirstChar) {
      this.#sawFirstChar = true;
      if (text.charCodeAt(0) === BOM) pos = 1;
    }
    if (this.#skipLeadingLf) {
      this.#skipLeadingLf = false;
      if (pos < length && text.charCodeAt(pos) === LF) pos++;
    }
    // Next CR and LF positions are remembered so each is searched for once per
    // chunk rather than once per line (a chunk without CR would otherwise be
    // rescanned to its end for every line).
    let nextLf = -2;
    let nextCr = -2;
    while (pos < length) {
      if (nextLf !== -1 && nextLf < pos) nextLf = text.indexOf('\n', pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf('\r', pos);
      let end: number;
      if (nextLf === -1) end = nextCr;
      else if (nextCr === -1) end = nextLf;
      else end = Math.min(nextLf, nextCr);
      if (end === -1) {
        this.#keepPartialLine(text, pos, length);
        return;
      }
      this.#finishLine(text, pos, end);
      pos = end + 1;
      if (text.charCodeAt(end) === CR) {
        if (pos === length) this.#skipLeadingLf = true;
        else if (text.charCodeAt(pos) === LF) pos++;
      }
    }
  }

  #keepPartialLine(text: string, start: number, end: number): void {
    if (this.#discardingLine) return;
    if (this.#discardingMessage) {
      // A line with content cannot be the blank line that ends the discarded
      // message, so there is no need to keep it.
      this.#discardingLine = true;
      return;
    }
    const chars = end - start;
    if (this.#pendingChars + chars > this.#maxLineChars) {
      // The pieces kept so far belong to the dropped line: left here they
      // would be prepended to the line after it (the blank line that ends the
      // discarded message), and the next message would be discarded too.
      this.#pending = [];
      this.#pendingChars = 0;
      this.#overflow();
      this.#discardingLine = true;
      return;
    }
    this.#pending.push(start === 0 && end === text.length ? text : text.slice(start, end));
    this.#pendingChars += chars;
  }

  #finishLine(text: string, start: number, end: number): void {
    if (this.#discardingLine) {
      // The dropped line ends here; its message stays discarded until the next blank line.
      this.#discardingLine = false;
      return;
    }
    if (this.#pendingChars + (end - start) > this.#maxLineChars) {
      this.#pending = [];
      this.#pendingChars = 0;
      this.#overflow();
      return;
    }
    let line: string;
    if (this.#pendingChars === 0) {
      line = text.slice(start, end);
    } else {
      this.#pending.push(text.slice(start, end));
      line = this.#pending.join('');
      this.#pending = [];
      this.#pendingChars = 0;
    }
    this.#processLine(line);
  }

  #processLine(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (this.#discardingMessage) return;
    const colon = line.indexOf(':');
    if (colon === 0) return; // a comment
    let value = '';
    if (colon > 0) {
      const valueStart = line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
      value = line.slice(valueStart);
    }
    const nameEnd = colon === -1 ? line.length : colon;
    if (fieldIs(line, nameEnd, 'data')) {
      if (this.#hasData) {
        if (this.#data.length + 1 + value.length > this.#maxLineChars) {
          this.#overflow();
          return;
        }
        this.#data += `\n${value}`;
      } else {
        this.#data = value;
        this.#hasData = true;
      }
    } else if (fieldIs(line, nameEnd, 'event')) {
      this.#eventType = value;
    } else if (fieldIs(line, nameEnd, 'id')) {
      if (!value.includes('\0')) this.lastEventId = value;
    } else if (fieldIs(line, nameEnd, 'retry')) {
      if (ALL_DIGITS.test(value)) {
        this.#messageRetry = Number(value);
        this.retry = this.#messageRetry;
      }
    }
    // Any other field is ignored, as the spec says.
  }

  #dispatch(): void {
    if (this.#discardingMessage) {
      this.#discardingMessage = false;
      this.#resetMessage();
      return;
    }
    if (!this.#hasData) {
      this.#resetMessage();
      return;
    }
    const message: SseMessage = {
      event: this.#eventType === '' ? 'message' : this.#eventType,
      data: this.#data,
    };
    if (this.lastEventId !== '') message.id = this.lastEventId;
    if (this.#messageRetry !== undefined) message.retry = this.#messageRetry;
    this.#resetMessage();
    this.#onMessage(message);
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
    this.#data = '';
    this.#hasData = false;
    this.#eventType = '';
    this.#messageRetry = undefined;
  }
}
