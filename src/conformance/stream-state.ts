import { decodeCursor } from '../protocol/cursor';
import type { Cursor, RealtimeEvent, ServerFrame } from '../protocol/schemas';
import type { Item } from './queue';

/** What kind of mistake a problem is: a check reports the kinds it is about. */
export type ProblemKind = 'seq' | 'order' | 'after' | 'cursor' | 'event' | 'sse' | 'reset' | 'error';

/** One thing a frame got wrong. */
export interface Problem {
  kind: ProblemKind;
  text: string;
}

/** Largest distance between a server time and the local clock taken for the same clock. */
export const CLOCK_TOLERANCE_MS = 5 * 60_000;

/** Why `time` (a server's epoch ms) is not plausible now, or `undefined`. */
export function implausibleTime(field: string, time: number): string | undefined {
  const offset = time - Date.now();
  if (Math.abs(offset) <= CLOCK_TOLERANCE_MS) return undefined;
  const hint =
    Math.abs(time * 1000 - Date.now()) <= CLOCK_TOLERANCE_MS
      ? ' It reads as epoch seconds: milliseconds are expected.'
      : ' Epoch milliseconds of the server clock are expected; check the units and the clock.';
  return `${field} ${time} is ${Math.round(offset / 1000)} s off the local clock.${hint}`;
}

// base64url (RFC 4648 §5); padding is optional there, and decodeCursor takes it.
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * A stream as the SDK's pipeline follows it: per service the cursor it has
 * accounted for, checked against every `batch` as PROTOCOL.md's "Gaps and
 * replay" compares them. It tells what the client would do (apply, drop an
 * overlap, see a gap) and names every rule a frame breaks.
 */
export class StreamState {
  /** Per service, the last seq accounted for. */
  readonly cursor: Cursor;
  #orgId: string | undefined;

  constructor(
    start: Cursor,
    private readonly services: readonly string[],
    private readonly sse: boolean,
  ) {
    this.cursor = { ...start };
  }

  /** Starts a service the client had no cursor for at `seq` (a welcome or `update` answer). */
  start(service: string, seq: number): void {
    if (!(service in this.cursor)) this.cursor[service] = seq;
  }

  /**
   * Applies one delivered frame. `fresh` are the events the app would get
   * (past the cursor); `stale` the ones at or below it, which dedup drops:
   * an overlap, or an event lost when it was never had.
   */
  apply(item: Extract<Item, { kind: 'frame' }>): {
    problems: Problem[];
    fresh: RealtimeEvent[];
    stale: RealtimeEvent[];
  } {
    const { frame } = item;
    const problems: Problem[] = [];
    const fresh: RealtimeEvent[] = [];
    const stale: RealtimeEvent[] = [];
    if (this.sse) problems.push(...sseProblems(item));
    if (frame.type === 'reset') {
      problems.push({
        kind: 'reset',
        text: `a reset (reason ${JSON.stringify(frame.reason)}, services ${frame.services.join(',')}) although the server had every event since the client's cursor: a reset makes the app re-fetch its snapshot (PROTOCOL.md, Frames: reset)`,
      });
      Object.assign(this.cursor, frame.cursor);
    } else if (frame.type === 'error') {
      problems.push({
        kind: 'error',
        text: `an error frame: ${frame.code} ${JSON.stringify(frame.message)}`,
      });
    } else if (frame.type === 'batch') {
      this.#applyBatch(frame, problems, fresh, stale);
    } else if (frame.type === 'welcome') {
      // A resumed stream's: as the SDK, a service with no cursor yet starts at the welcome's.
      for (const [service, seq] of Object.entries(frame.cursor)) this.start(service, seq);
    }
    return { problems, fresh, stale };
  }

  #applyBatch(
    frame: Extract<ServerFrame, { type: 'batch' }>,
    problems: Problem[],
    fresh: RealtimeEvent[],
    stale: RealtimeEvent[],
  ): void {
    const byService = new Map<string, RealtimeEvent[]>();
    for (const event of frame.events) {
      const list = byService.get(event.service) ?? [];
      list.push(event);
      byService.set(event.service, list);
      if (!this.services.includes(event.service)) {
        problems.push({
          kind: 'event',
          text: `an event of service ${event.service}, which this connection did not subscribe to`,
        });
      }
      if (this.#orgId !== undefined && event.orgId !== this.#orgId) {
        problems.push({
          kind: 'event',
          text: `event seq ${event.seq} of ${event.service} has orgId ${JSON.stringify(event.orgId)}, an earlier one ${JSON.stringify(this.#orgId)}: one user's token is one org`,
        });
      }
      this.#orgId ??= event.orgId;
      const late = implausibleTime(`event ${event.service} seq ${event.seq}: ts`, event.ts);
      if (late) problems.push({ kind: 'event', text: `${late} (PROTOCOL.md, Event)` });
    }
    for (const service of new Set([...byService.keys(), ...Object.keys(frame.after)])) {
      const events = byService.get(service) ?? [];
      const after = frame.after[service];
      const end = frame.cursor[service];
      if (after === undefined) {
        problems.push({
          kind: 'after',
          text: `a batch with events of ${service} whose after has no ${service}: after is the cursor the batch continues from, per service it covers (PROTOCOL.md, Frames: batch)`,
        });
        continue;
      }
      const previous = this.cursor[service];
      if (previous !== undefined && after > previous) {
        problems.push({
          kind: 'after',
          text: `a batch with after.${service} = ${after}, but the previous frame left the cursor at ${previous}: the client sees a gap and reconnects to have it replayed (PROTOCOL.md, Gaps and replay)`,
        });
      }
      let last = after;
      /** The seq of the batch's event before, if any. */
      let before: number | undefined;
      for (const event of events) {
        const outOfOrder = before !== undefined && event.seq <= before;
        if (outOfOrder) {
          // Its own kind: a replay's batches are judged by it, not by seq steps.
          problems.push({
            kind: 'order',
            text: `event seq ${event.seq} of ${service} comes after seq ${before} in one batch: a batch lists its events in seq order, and the client applies them in the order they come (PROTOCOL.md, Frames: batch)`,
          });
        } else if (event.seq !== last + 1) {
          problems.push({
            kind: 'seq',
            text: `event seq ${event.seq} of ${service} follows ${before === undefined ? `after.${service} = ${after}` : `seq ${last}`}: seq grows by exactly 1 per event of a service, and a batch continues from its after (PROTOCOL.md, Words: seq)`,
          });
        }
        before = event.seq;
        // Out of order, the batch still reaches as far as its highest seq.
        last = outOfOrder ? Math.max(last, event.seq) : event.seq;
        // An overlap (at or below the cursor) is what dedup drops.
        if (previous === undefined || event.seq > previous) fresh.push(event);
        else stale.push(event);
      }
      if (end === undefined) {
        problems.push({
          kind: 'cursor',
          text: `a batch of ${service} whose cursor has no ${service} (PROTOCOL.md, Frames: batch)`,
        });
      } else if (events.length > 0 && end !== last) {
        problems.push({
          kind: 'cursor',
          text: `a batch whose last event of ${service} is seq ${last} but whose cursor.${service} is ${end}: cursor is where the batch leaves the stream (PROTOCOL.md, Frames: batch)`,
        });
      } else if (end < after) {
        problems.push({
          kind: 'cursor',
          text: `a batch whose cursor.${service} (${end}) is below its after (${after})`,
        });
      }
      const next = Math.max(end ?? last, last);
      if (previous === undefined || next > previous) this.cursor[service] = next;
    }
  }
}

/** The SSE framing rules an item breaks (PROTOCOL.md, Frames: "SSE: …"). */
function sseProblems(item: Extract<Item, { kind: 'frame' }>): Problem[] {
  const { frame, event, id } = item;
  const problems: Problem[] = [];
  if (event !== frame.type) {
    problems.push({
      kind: 'sse',
      text: `an SSE message with event: ${event ?? '(none)'} carrying a ${frame.type} frame: each frame is one message with event: <type> (PROTOCOL.md, Frames: SSE)`,
    });
  }
  if (frame.type !== 'batch' && frame.type !== 'reset') return problems;
  const where = '(PROTOCOL.md, Frames: SSE; docs/protocol.md, Transports: SSE)';
  if (id === undefined) {
    problems.push({
      kind: 'sse',
      text: `a ${frame.type} message without id:: batch and reset messages carry id: <base64url cursor> so that Last-Event-ID resumes ${where}`,
    });
    return problems;
  }
  const decoded = BASE64URL.test(id) ? decodeCursor(id) : undefined;
  if (decoded === undefined) {
    problems.push({
      kind: 'sse',
      text: `a ${frame.type} message whose id: ${JSON.stringify(id.slice(0, 80))} is not a base64url JSON cursor ${where}`,
    });
    return problems;
  }
  for (const [service, seq] of Object.entries(frame.cursor)) {
    if (decoded[service] !== seq) {
      problems.push({
        kind: 'sse',
        text: `a ${frame.type} message whose id: says ${service}=${decoded[service] ?? 'nothing'} while its cursor.${service} is ${seq}: the id is the connection's cursor after the frame (a message without id: keeps the previous one) ${where}`,
      });
      break;
    }
  }
  return problems;
}
