import { encodeCursor } from '../protocol/cursor';
import { readPollResponse, readUpdateServicesResponse } from '../protocol/frame-reader';
import { DEFAULT_MAX_FRAME_CHARS, type FrameParseResult, parseServerFrame } from '../protocol/parse';
import { type Cursor, serverFrameSchema, type WelcomeFrame } from '../protocol/schemas';
import { REFUSALS } from '../transports/failures';
import { codeForStatus } from '../transports/http-request';
import { kit } from '../transports/kit';
import { pastOf } from '../transports/poll-cursor';
import { hasContentType, SseParser } from '../transports/sse-parser';
import { endpointUrl, hasKeys, subscriptionQuery } from '../transports/url';
import { closeMeaning, errorFromFirstFrame } from '../transports/websocket-codes';
import { atDeadline, type Item, ItemQueue, now } from './queue';
import type { ConformanceTransport } from './types';

// One connection to the backend under check, per transport, as the SDK's
// transports open it (src/transports/*.ts): same URLs, headers and first
// frames. Every frame goes through the SDK's own reader (parseServerFrame):
// what the client accepts is the contract. Nothing here throws on what the
// server sends; every request, stream and socket ends at the deadline or on
// `close()`, whichever comes first, and leaves no timer.

/** The part of a WHATWG `WebSocket` the checker uses: `ws`'s class and Node 22's global both fit. */
export interface CheckerWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  terminate?(): void;
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number; message?: unknown }) => void,
  ): void;
}

/** A `WebSocket` constructor. */
export type CheckerWebSocketClass = new (url: string) => CheckerWebSocket;

/** What opening a connection came to. */
export type Opened =
  | {
      kind: 'open';
      session: Session;
      welcome: WelcomeFrame;
      welcomedAt: number;
      /** The item that carried the welcome (over SSE: with its message's `event`). */
      first: Extract<Item, { kind: 'frame' }>;
    }
  /** The server refused it: an HTTP error status, an `error` frame first, or a WebSocket close 4xxx first. */
  | { kind: 'refused'; detail: string; status?: number; code?: string }
  /** Anything else: no answer, not the protocol, a first frame that is not `welcome`. */
  | { kind: 'broken'; detail: string };

/**
 * The answer to a change of services. SSE: `superseded` is why an update
 * failed whose stream ended while it was in flight (and was resumed with the
 * new services): the SDK drops such an answer, or reconnects on it.
 */
export type UpdateOutcome =
  | { ok: true; cursor?: Cursor; superseded?: string }
  | { ok: false; detail: string };

/** A live connection. */
export interface Session {
  /** The next frame or event after the `welcome`. */
  next(deadline: number): Promise<Item>;
  /** Changes the services (HTTP: `POST /update-services`; WebSocket: an `update` frame, which has no answer). */
  update(services: readonly string[], deadline: number): Promise<UpdateOutcome>;
  /**
   * Long-poll only: the next poll asks from this cursor, as the SDK's
   * `replay()` does. Returns the items already read and not yet taken (the
   * rest of the opening answer): the client applied them against its cursor
   * before the rewind, so they are not judged against the rewound one.
   */
  rewind?(cursor: Cursor): Item[];
  /** WebSocket only: sends `auth { token }`, as the SDK's `setToken` does on a live socket; `false` when the socket is not open. */
  auth?(token: string): boolean;
  /**
   * Long-poll only: sends one poll with `wait`, calls `meanwhile` once the
   * server has had `holdMs` to start holding it, and tells what that poll was
   * answered with (its frames are not queued for `next()`).
   */
  holdPoll?(wait: number, holdMs: number, meanwhile: () => Promise<void>, until: number): Promise<HeldPoll>;
  /**
   * Long-poll only: how many ms the last poll took, when its answer is one
   * the SDK waits after before polling again (see `openLongPoll`); else undefined.
   */
  pacedAfter?(): number | undefined;
  close(): void;
}

/** What a poll held across a publish was answered with; `early` when it came before the publish settled. */
export type HeldPoll =
  | { kind: 'answered'; status: number; elapsedMs: number; items: Item[]; early: boolean }
  | { kind: 'failed'; detail: string }
  | { kind: 'timeout' };

/** Resolves after `ms`, or as soon as `sooner` settles; leaves no timer either way. */
function pause(ms: number, sooner: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((done) => {
    timer = setTimeout(done, ms);
  });
  return Promise.race([elapsed, sooner.then(() => undefined)]).finally(() => clearTimeout(timer));
}

/** What every connection is opened with. */
export interface OpenParams {
  base: string;
  token: string | undefined;
  services: readonly string[];
  /** The client's cursor; none for a first connection. */
  cursor?: Cursor;
  /** When the connection is closed at the latest. */
  deadline: number;
  /** When the `welcome` must be in; default `deadline`. */
  openBy?: number;
  /** SSE: send the cursor in `Last-Event-ID` only, not in the query. */
  lastEventIdOnly?: boolean;
  /**
   * SSE: a stream the server ended after its welcome is resumed with the
   * client's cursor, as the SDK reconnects; called at each resumed stream's
   * welcome with the services it starts past that cursor, if any.
   */
  onResume?: (past: string | undefined) => void;
  /** Long-poll `wait`, in seconds. */
  pollWaitSeconds: number;
  WebSocket?: CheckerWebSocketClass;
}

/** At most this much of a body or a frame is quoted in a detail. */
const QUOTE_CHARS = 160;

/** `text`, cut to {@link QUOTE_CHARS}. */
export function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
}

/** A thrown value as one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Why the SDK refuses a frame over its size bound, for a detail. */
export const TOO_LARGE = `over the SDK's bound of ${DEFAULT_MAX_FRAME_CHARS} characters (16 Mi) per frame: it drops the frame (PROTOCOL.md leaves the size open; the SDK's maxFrameChars); send large data in smaller batches`;

/**
 * The fields a frame the SDK's reader refused gets wrong, as its schema
 * names them (the reader accepts exactly what the schema accepts): "invalid
 * batch frame" alone leaves a backend guessing which of its fields it is.
 */
function wrongFields(value: unknown): string {
  const parsed = serverFrameSchema.safeParse(value);
  if (parsed.success) return '';
  const issues = parsed.error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`));
    const field = path.join('').replace(/^\./, '') || 'the frame';
    const expected = 'expected' in issue ? ` (${String(issue.expected)} expected)` : '';
    return `${field}: ${issue.code === 'invalid_type' && atPath(value, issue.path) === undefined ? 'missing' : issue.code.replace(/_/g, ' ')}${expected}`;
  });
  return `: ${issues.join(', ')}`;
}

/** The value at `path` in `value`, or undefined. */
function atPath(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** Reads a frame off the wire as the SDK does; an item either way. */
function itemOf(input: unknown, extra: { event?: string; id?: string } = {}): Item {
  // A long-poll answer's frames come parsed: the SDK measures each by its JSON (long-poll.ts).
  const oversized =
    typeof input === 'object' && (JSON.stringify(input)?.length ?? 0) > DEFAULT_MAX_FRAME_CHARS;
  const result: FrameParseResult = oversized ? { ok: false, reason: 'too_large' } : parseServerFrame(input);
  if (result.ok) return { kind: 'frame', frame: result.frame, ...extra };
  const text = typeof input === 'string' ? input : (JSON.stringify(input) ?? String(input));
  // Several frames in one message (as a long-poll answer's `frames`) is a likely mistake.
  const array = /^\s*\[/.test(text) ? ', a JSON array: each message must be one frame object' : '';
  let why = result.detail ? ` (${result.detail})` : '';
  if (result.reason === 'too_large') why = ` (${text.length} characters, ${TOO_LARGE})`;
  else if (result.reason === 'invalid') {
    why = ` (${result.detail ?? 'invalid frame'}${wrongFields(typeof input === 'string' ? JSON.parse(input) : input)})`;
  }
  return { kind: 'invalid', detail: `${result.reason}${why}${array}: ${quote(text)}` };
}

/** The first item decides: a `welcome` opens, an `error` refuses, anything else is broken. */
function opened(first: Item, session: Session, what: string): Opened {
  if (first.kind === 'frame' && first.frame.type === 'welcome') {
    return { kind: 'open', session, welcome: first.frame, welcomedAt: now(), first };
  }
  session.close();
  if (first.kind === 'frame' && first.frame.type === 'error') {
    const { code, message } = first.frame;
    return { kind: 'refused', code, detail: `error frame ${code}: ${quote(message)}` };
  }
  if (first.kind === 'frame')
    return { kind: 'broken', detail: `the first frame was ${first.frame.type}, not welcome` };
  if (first.kind === 'invalid')
    return { kind: 'broken', detail: `the first frame is one the SDK refuses: ${first.detail}` };
  if (first.kind === 'end') return { kind: 'broken', detail: first.detail };
  return { kind: 'broken', detail: `no welcome ${what} before the time limit` };
}

/** Reads at most `max` characters of a body, never past the signal. Never rejects. */
async function readSome(response: Response, max = 2000): Promise<string> {
  try {
    const text = await response.text();
    return text.slice(0, max);
  } catch {
    return '';
  }
}

/** An HTTP refusal: its status, and the code the SDK reads from that status (its body is only quoted). */
async function refusal(response: Response, what: string): Promise<Extract<Opened, { kind: 'refused' }>> {
  const body = await readSome(response);
  return {
    kind: 'refused',
    status: response.status,
    code: codeForStatus(response.status, REFUSALS),
    detail: `${what} answered HTTP ${response.status}${body ? ` ${quote(body)}` : ''}`,
  };
}

/**
 * A controller that aborts at `deadline`, once what arrived by then is read
 * (see {@link atDeadline}: an answer that came in while the checker stalled is
 * not aborted unread); `stop()` clears its timer.
 */
function deadlineController(deadline: number): { controller: AbortController; stop: () => void } {
  const controller = new AbortController();
  const cancel = atDeadline(deadline, () => controller.abort());
  return {
    controller,
    stop: () => {
      cancel();
      controller.abort();
    },
  };
}

function authHeader(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

/** `POST /update-services`, as src/transports/update-services.ts sends it. */
async function postUpdate(
  base: string,
  token: string | undefined,
  body: { connectionId: string; services: readonly string[] },
  deadline: number,
): Promise<UpdateOutcome> {
  const { controller, stop } = deadlineController(deadline);
  try {
    const response = await fetch(endpointUrl(base, 'update-services'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeader(token) },
      body: JSON.stringify({ ...body, propertyIds: null }),
      signal: controller.signal,
    });
    const text = await readSome(response, 100_000);
    if (response.status !== 200) {
      return { ok: false, detail: `POST /update-services answered HTTP ${response.status} ${quote(text)}` };
    }
    let parsed: { cursor: Cursor } | undefined;
    try {
      parsed = readUpdateServicesResponse(JSON.parse(text));
    } catch {
      // not JSON: refused below
    }
    if (!parsed) {
      return {
        ok: false,
        detail: `POST /update-services answered 200 ${quote(text)}, which the SDK refuses: expected JSON { cursor: { [service]: seq } }`,
      };
    }
    return { ok: true, cursor: parsed.cursor };
  } catch (error) {
    return {
      ok: false,
      detail: controller.signal.aborted
        ? 'POST /update-services got no answer before the time limit'
        : `POST /update-services failed: ${describeError(error)}`,
    };
  } finally {
    stop();
  }
}

/** Opens a connection over `transport`. Never rejects. */
export function openSession(transport: ConformanceTransport, params: OpenParams): Promise<Opened> {
  if (transport === 'sse') return openSse(params);
  if (transport === 'long-poll') return openLongPoll(params);
  return openWebSocket(params);
}

/**
 * How many ended streams one SSE session resumes at most: a server that ends
 * every stream at once is not reconnected to in a loop until the deadline.
 */
const MAX_SSE_RESUMES = 20;

/**
 * How long a failed `POST /update-services` waits for its stream's end: a
 * server that ends the stream and answers 404 sends both at once, and the
 * answer may come in first.
 */
const UPDATE_END_RACE_MS = 250;

/** The services whose `welcome.cursor` starts past `sent`: the events between are lost unless replayed. */
function pastCursor(sent: Cursor, welcomed: Cursor): string | undefined {
  const past = Object.keys(sent).filter((s) => (welcomed[s] ?? -1) > (sent[s] as number));
  if (past.length === 0) return undefined;
  return past.map((s) => `${s}=${sent[s]} was welcomed with cursor.${s} = ${welcomed[s]}`).join(', ');
}

/**
 * The SSE parser's bounds, as the SDK's SSE transport sets them (sse.ts: a
 * frame of the bound plus its `data: ` prefix is kept); a message over them
 * is dropped whole, and `onOverflow` says so: a silent drop would fail a
 * check with "no event arrived", not naming the size.
 */
const SSE_BOUNDS = (onOverflow: () => void) => ({
  maxLineChars: DEFAULT_MAX_FRAME_CHARS + 'data: '.length,
  onOverflow,
});

async function openSse(params: OpenParams): Promise<Opened> {
  const { base, token, deadline, lastEventIdOnly, onResume } = params;
  let services = params.services;
  const queue = new ItemQueue();
  const { controller, stop } = deadlineController(deadline);
  let closed = false;
  let connectionId: string | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let resumes = 0;
  /** Called when a stream ends (resumed or not): a failed update waits for that. */
  let onEnd: (() => void) | undefined;
  // The client's cursor, moved by each batch and reset: a stream the server
  // ends is resumed from it, as the SDK reconnects (an SSE server, or a proxy
  // in front of it, may end a stream; the SSE standard's clients reconnect).
  const cursor: Cursor = { ...params.cursor };
  const close = (): void => {
    closed = true;
    cancelOpen();
    stop();
    onEnd?.();
  };
  // Until the welcome is in, `openBy` bounds the request and the reading of a refusal's body.
  const openBy = params.openBy ?? deadline;
  const cancelOpen = atDeadline(openBy, close);

  /** `GET /stream` from `from`, as the SDK sends it: a `200 text/event-stream` body, or why not. */
  const request = async (
    from: Cursor | undefined,
  ): Promise<ReadableStream<Uint8Array> | Exclude<Opened, { kind: 'open' }>> => {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeader(token) };
    if (hasKeys(from)) headers['Last-Event-ID'] = encodeCursor(from);
    const url = endpointUrl(
      base,
      'stream',
      subscriptionQuery({ services, propertyIds: null, cursor: lastEventIdOnly ? undefined : from }),
    );
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: controller.signal });
    } catch (error) {
      return {
        kind: 'broken',
        detail: closed
          ? 'GET /stream got no answer before the time limit'
          : `GET /stream failed: ${describeError(error)}`,
      };
    }
    if (response.status !== 200) return refusal(response, 'GET /stream (SSE)');
    if (!hasContentType(response, 'text/event-stream') || !response.body) {
      return {
        kind: 'broken',
        detail: `GET /stream answered 200 with Content-Type ${response.headers.get('content-type') ?? 'none'}: expected text/event-stream (PROTOCOL.md, Endpoints; the SDK moves on to its next transport)`,
      };
    }
    return response.body;
  };

  /** Reads one stream into the queue; `sent` is the cursor a resumed one was asked from. */
  const follow = (body: ReadableStream<Uint8Array>, sent?: Cursor): void => {
    const streamReader = body.getReader();
    reader = streamReader;
    let welcomed = false;
    const parser = new SseParser(
      (message) => {
        if (closed) return;
        const item = itemOf(message.data, { event: message.event, id: message.id });
        if (item.kind === 'frame') {
          const { frame } = item;
          if (frame.type === 'welcome' && !welcomed) {
            welcomed = true;
            connectionId = frame.connectionId;
            if (sent) onResume?.(pastCursor(sent, frame.cursor));
            // The client keeps its own cursor of a service; a new one starts at the welcome's.
            for (const [service, seq] of Object.entries(frame.cursor)) cursor[service] ??= seq;
          } else if (frame.type === 'batch' || frame.type === 'reset') Object.assign(cursor, frame.cursor);
        }
        queue.push(item);
      },
      SSE_BOUNDS(
        () => !closed && queue.push({ kind: 'invalid', detail: `too_large (an SSE message ${TOO_LARGE})` }),
      ),
    );
    void (async () => {
      let failure = '';
      try {
        for (;;) {
          const { done, value } = await streamReader.read();
          if (done) break;
          parser.push(value);
        }
      } catch (error) {
        // Aborted by the checker (close, or the deadline): the reader times out on its own.
        if (controller.signal.aborted) return;
        failure = describeError(error);
      }
      if (closed) return;
      const ended = failure ? `the event stream failed: ${failure}` : 'the server ended the event stream';
      // Only a welcomed stream is resumed: the first one's end is the open's failure.
      if (!welcomed || resumes >= MAX_SSE_RESUMES) {
        const why = !welcomed && sent ? ' before its welcome, after a reconnect with the cursor' : '';
        const often = welcomed
          ? ` again after ${resumes} reconnects with the cursor: the checker stops there`
          : '';
        queue.push({ kind: 'end', detail: `${ended}${why}${often}` });
        onEnd?.();
        return;
      }
      resumes++;
      onEnd?.();
      const from = { ...cursor };
      const next = await request(from);
      if (closed || controller.signal.aborted) return;
      if (!('kind' in next)) follow(next, from);
      else {
        queue.push({
          kind: 'end',
          detail: `${ended}, and reconnecting with the cursor as the SDK does failed: ${next.detail}`,
        });
      }
    })();
  };

  const first = await request(params.cursor);
  if ('kind' in first) {
    // A refusal's body was read within `openBy`.
    close();
    return first;
  }
  follow(first);
  const session: Session = {
    next: (until) => queue.next(until),
    update: async (next, until) => {
      if (connectionId === undefined) return { ok: false, detail: 'no connectionId (no welcome)' };
      // A stream that ends while this is in flight is resumed with these
      // services, as the SDK reconnects with the needs of that time (its
      // update then fails with the connection, or its answer is dropped):
      // with the old ones the added service's events would never come.
      services = next;
      const resumed = resumes;
      const outcome = await postUpdate(base, token, { connectionId, services: next }, until);
      if (!outcome.ok) {
        // A stream that ends with it: the update was for a connection the
        // resumed stream replaces (asked with the new services).
        if (resumes === resumed && !closed) {
          await new Promise<void>((done) => {
            // Not a bare timer: an end that came in while the checker stalled is read first.
            const cancel = atDeadline(Math.min(until, now() + UPDATE_END_RACE_MS), () => done());
            onEnd = () => {
              cancel();
              done();
            };
          });
          onEnd = undefined;
        }
        return resumes === resumed ? outcome : { ok: true, superseded: outcome.detail };
      }
      // The start the answer gave is the stream's it was asked on: once that
      // one ended, the SDK drops it, and the resumed welcome starts the service.
      if (resumes === resumed)
        for (const [service, seq] of Object.entries(outcome.cursor ?? {})) cursor[service] ??= seq;
      return outcome;
    },
    close: () => {
      close();
      reader?.cancel().catch(() => {});
    },
  };
  const welcome = await queue.next(openBy);
  cancelOpen();
  return opened(welcome, session, 'event');
}

async function openWebSocket(params: OpenParams): Promise<Opened> {
  const { base, token, services, cursor, deadline } = params;
  const WebSocketClass = params.WebSocket;
  if (!WebSocketClass) return { kind: 'broken', detail: 'no WebSocket class' };
  const queue = new ItemQueue();
  const url = endpointUrl(base, 'stream', subscriptionQuery({ services, propertyIds: null })).href.replace(
    /^http/,
    'ws',
  );
  let socket: CheckerWebSocket;
  try {
    socket = new WebSocketClass(url);
  } catch (error) {
    return { kind: 'broken', detail: `new WebSocket(${url}) threw: ${describeError(error)}` };
  }
  let closeCode: number | undefined;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    cancelDeadline();
    try {
      // `terminate` also ends a socket still opening, which `close` leaves to a timer of its own.
      if (socket.terminate) socket.terminate();
      else socket.close(1000);
    } catch {
      // already closed
    }
  };
  // At the deadline, once what arrived by then is read (see atDeadline): a
  // frame that came in while the checker stalled reaches the reader first.
  const cancelDeadline = atDeadline(deadline, close);
  socket.addEventListener('open', () => {
    const hello: Record<string, unknown> = {
      type: 'hello',
      services,
      propertyIds: null,
      cursor: cursor ?? {},
    };
    if (token !== undefined) hello.token = token;
    try {
      socket.send(JSON.stringify(hello));
    } catch (error) {
      queue.push({ kind: 'end', detail: `could not send hello: ${describeError(error)}` });
    }
  });
  let firstMessage = true;
  let refusal: Extract<Opened, { kind: 'refused' }> | undefined;
  let failure = '';
  socket.addEventListener('message', (event) => {
    if (closed) return;
    const { data } = event;
    if (firstMessage) {
      firstMessage = false;
      // The first message is read for a refusal as the client reads it
      // (websocket-codes.ts), more leniently than a frame: no `message` needed.
      const error = errorFromFirstFrame(data, kit);
      if (error) {
        const { code } = JSON.parse(data as string) as { code: string };
        refusal = {
          kind: 'refused',
          code: error.code,
          detail: `error frame ${code}: ${quote(error.message)}${code === error.code ? '' : ` (the SDK reads it as ${error.code})`}`,
        };
      }
    }
    queue.push(
      typeof data === 'string'
        ? itemOf(data)
        : {
            kind: 'invalid',
            detail:
              'a binary message: the SDK reads text messages only and drops binary ones (send each frame as text, e.g. a string, not a Buffer)',
          },
    );
  });
  socket.addEventListener('error', (event) => {
    // The close event that follows carries the code; `ws` says here what the upgrade got.
    if (typeof event.message === 'string') failure = event.message;
  });
  socket.addEventListener('close', (event) => {
    closeCode = event.code;
    // Closed by the checker (close, or the deadline): the reader times out on its own.
    if (!closed) {
      queue.push({
        kind: 'end',
        detail: `the WebSocket closed (${event.code ?? 'no code'}${failure ? `: ${failure}` : ''})`,
        closeCode: event.code,
      });
    }
    cancelDeadline();
    closed = true;
  });
  const session: Session = {
    next: (until) => queue.next(until),
    update: async (next) => {
      if (closed || socket.readyState !== 1) return { ok: false, detail: 'the WebSocket is not open' };
      socket.send(JSON.stringify({ type: 'update', services: next, propertyIds: null }));
      return { ok: true };
    },
    auth: (next) => {
      if (closed || socket.readyState !== 1) return false;
      socket.send(JSON.stringify({ type: 'auth', token: next }));
      return true;
    },
    close,
  };
  const first = await queue.next(params.openBy ?? deadline);
  if (refusal) {
    close();
    return refusal;
  }
  if (first.kind === 'end' && closeCode !== undefined && closeCode >= 4000 && closeCode < 5000) {
    close();
    // The code the client reads from the close code (4401: unauthorized), as from an HTTP status.
    return {
      kind: 'refused',
      code: closeMeaning(closeCode, REFUSALS).code,
      detail: `the WebSocket closed with ${closeCode} before any frame`,
    };
  }
  if (first.kind === 'end' || first.kind === 'timeout') {
    close();
    return {
      kind: 'broken',
      detail:
        first.kind === 'end'
          ? `${first.detail} before any frame: the SDK reads that as the WebSocket unavailable and tries its next transport (only close 4400, 4401, 4403 and 4429 say why; a browser sees an upgrade refused with an HTTP status as 1006), so it never refreshes a token for it`
          : 'no frame on the WebSocket before the time limit (upgrade refused or never answered, or no answer to hello)',
    };
  }
  return opened(first, session, 'frame');
}

/** One poll's answer. */
type PollAnswer =
  | { status: 204 | 200; frames: unknown[]; elapsedMs: number }
  | { status: number; detail: string; code?: string };

async function openLongPoll(params: OpenParams): Promise<Opened> {
  const { base, token, deadline, pollWaitSeconds } = params;
  let services = params.services;
  const queue = new ItemQueue();
  let closed = false;
  let inFlight: (() => void) | undefined;
  let connectionId: string | undefined;
  // After an answer that came before `wait` was up and that the client paces
  // (long-poll.ts: it moves no cursor and brings no heartbeat or welcome more
  // than half a `heartbeatMs` past the last by the server's clock), the next
  // poll waits until then: a backend that ignores `wait` (PROTOCOL.md allows
  // "up to"), or a cache that replays a stored heartbeat, is not polled in a
  // tight loop, as the client paces it too. A server's own heartbeats, however
  // soon one ends a poll, are not waited after: the client follows them at once.
  let restUntil = 0;
  let pacedAfter: number | undefined;
  // The `serverTime` of the last heartbeat or welcome, and the last welcome's `heartbeatMs`.
  let spokeAt = Number.NaN;
  let heartbeatMs = Number.NaN;
  // What the next poll asks from: the client's cursor, moved by each batch and reset.
  const cursor: Cursor = { ...params.cursor };

  const poll = async (wait: number, until: number): Promise<PollAnswer | undefined> => {
    const id = connectionId === undefined ? '' : `connectionId=${encodeURIComponent(connectionId)}&`;
    const url = endpointUrl(
      base,
      'poll',
      `${id}${subscriptionQuery({ services, propertyIds: null, cursor })}&wait=${wait}`,
    );
    const { controller, stop } = deadlineController(until);
    inFlight = stop;
    const sentAt = now();
    try {
      const response = await fetch(url, {
        headers: { Accept: 'application/json', ...authHeader(token) },
        signal: controller.signal,
      });
      const elapsedMs = Math.round(now() - sentAt);
      if (response.status === 204) {
        await readSome(response);
        return { status: 204, frames: [], elapsedMs };
      }
      if (response.status !== 200) {
        const answer = await refusal(response, 'GET /poll');
        return {
          status: response.status,
          detail: answer.detail,
          code: answer.code,
        };
      }
      // Whole, as the SDK reads it: a frame over its bound is dropped alone (see itemOf), not the answer.
      const text = await readSome(response, Number.POSITIVE_INFINITY);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { status: 200, detail: `GET /poll answered 200 with a body that is not JSON: ${quote(text)}` };
      }
      const frames = readPollResponse(body)?.frames;
      if (!frames) {
        return {
          status: 200,
          detail: `GET /poll answered 200 ${quote(text)}: expected { frames: [...] } (PROTOCOL.md, long-poll)`,
        };
      }
      return { status: 200, frames, elapsedMs };
    } catch (error) {
      if (controller.signal.aborted) return undefined;
      return { status: 0, detail: `GET /poll failed: ${describeError(error)}` };
    } finally {
      stop();
      if (inFlight === stop) inFlight = undefined;
    }
  };

  /** Reads a poll's frames as the client does (its cursor and connection follow them). */
  const read = (frames: unknown[]): Item[] =>
    frames.map((input) => {
      const item = itemOf(input);
      if (item.kind === 'frame') {
        const { frame } = item;
        if (frame.type === 'heartbeat' || frame.type === 'welcome') spokeAt = frame.serverTime;
        if (frame.type === 'welcome') {
          connectionId = frame.connectionId;
          heartbeatMs = frame.heartbeatMs;
          for (const [service, seq] of Object.entries(frame.cursor))
            if (!(service in cursor)) cursor[service] = seq;
        }
        if (frame.type === 'batch' || frame.type === 'reset') Object.assign(cursor, frame.cursor);
      }
      return item;
    });
  const deliver = (frames: unknown[]): void => {
    for (const item of read(frames)) queue.push(item);
  };

  const session: Session = {
    async next(until) {
      for (;;) {
        if (!queue.empty || queue.ended) return queue.next(until);
        if (closed || now() >= until) return { kind: 'timeout' };
        const rest = Math.min(restUntil, until) - now();
        if (rest > 0) {
          await new Promise<void>((done) => {
            const timer = setTimeout(done, rest);
            inFlight = () => {
              clearTimeout(timer);
              done();
            };
          });
          continue;
        }
        const spokenBefore = spokeAt;
        const answer = await poll(pollWaitSeconds, until);
        if (closed || answer === undefined) return { kind: 'timeout' };
        if ('detail' in answer) return { kind: 'end', detail: answer.detail };
        const { frames, elapsedMs } = answer;
        deliver(frames);
        pacedAfter =
          elapsedMs < pollWaitSeconds * 1000 &&
          !hasKeys(pastOf(frames)) &&
          !(spokeAt - spokenBefore > heartbeatMs / 2)
            ? elapsedMs
            : undefined;
        if (pacedAfter !== undefined) restUntil = now() + pollWaitSeconds * 1000 - elapsedMs;
        if (frames.length === 0) return { kind: 'empty', status: answer.status, elapsedMs };
      }
    },
    pacedAfter: () => pacedAfter,
    async holdPoll(wait, holdMs, meanwhile, until) {
      let settledAt = Number.POSITIVE_INFINITY;
      let answeredAt = Number.POSITIVE_INFINITY;
      const polling = poll(wait, until).then((answer) => {
        answeredAt = now();
        return answer;
      });
      // `meanwhile` goes once the server has had `holdMs` to start holding the poll, or once it answered.
      const during = pause(holdMs, polling)
        .then(meanwhile)
        .then(() => {
          settledAt = now();
        });
      const [answer] = await Promise.all([polling, during]);
      restUntil = 0;
      pacedAfter = undefined;
      if (closed || answer === undefined) return { kind: 'timeout' };
      if ('detail' in answer) return { kind: 'failed', detail: answer.detail };
      const { status, elapsedMs } = answer;
      return {
        kind: 'answered',
        status,
        elapsedMs,
        items: read(answer.frames),
        early: answeredAt < settledAt,
      };
    },
    update: async (next, until) => {
      if (connectionId === undefined) return { ok: false, detail: 'no connectionId (no welcome)' };
      const outcome = await postUpdate(base, token, { connectionId, services: next }, until);
      services = next;
      if (outcome.ok && outcome.cursor) Object.assign(cursor, outcome.cursor);
      return outcome;
    },
    rewind(from) {
      Object.assign(cursor, from);
      return queue.drain();
    },
    close() {
      closed = true;
      inFlight?.();
    },
  };

  // The opening poll, as the SDK's: no connection id, `wait=0`.
  const openBy = params.openBy ?? deadline;
  const answer = await poll(0, openBy);
  if (answer === undefined) {
    session.close();
    return { kind: 'broken', detail: 'GET /poll (opening) got no answer before the time limit' };
  }
  if ('detail' in answer) {
    session.close();
    if (answer.status >= 400)
      return { kind: 'refused', status: answer.status, code: answer.code, detail: answer.detail };
    return { kind: 'broken', detail: answer.detail };
  }
  if (answer.status === 204 || answer.frames.length === 0) {
    session.close();
    return {
      kind: 'broken',
      detail: `the opening poll (no connectionId, wait=0) answered ${answer.status === 204 ? '204' : '200 { frames: [] }'}: expected 200 { frames: [welcome, …] } (docs/protocol.md, Transports: long-poll)`,
    };
  }
  deliver(answer.frames);
  return opened(await queue.next(openBy), session, 'frame');
}
