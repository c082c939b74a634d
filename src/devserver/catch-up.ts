import type { BatchFrame, RealtimeEvent, ResetFrame } from '../protocol/schemas';
import type { EventLog } from './event-log';

/** Why the server cannot replay from a cursor. */
export type ResetReason = 'buffer_expired' | 'epoch_changed' | 'quarantine';

/** PROTOCOL.md property filter: `null` = all; events without a propertyId reach everyone. */
export function matchesPropertyFilter(event: RealtimeEvent, propertyIds: readonly string[] | null): boolean {
  return propertyIds === null || event.propertyId == null || propertyIds.includes(event.propertyId);
}

/**
 * How far a filtered connection's cursor may lag the head, in seqs, before
 * the server tells it with an empty batch that the seqs in between were all
 * filtered out. Half the replay buffer: a client that reconnects (or polls)
 * with that cursor is still inside the buffer, so it is replayed rather than
 * reset, and a connection gets at most one such frame per half buffer of
 * events it does not see.
 */
export function cursorAdvanceAt(replayBufferSize: number): number {
  return Math.max(1, Math.floor(replayBufferSize / 2));
}

/** An empty batch: every seq of `service` in (after, upTo] was filtered out for this connection. */
export function filteredOut(service: string, after: number, upTo: number): BatchFrame {
  return { type: 'batch', events: [], after: { [service]: after }, cursor: { [service]: upTo } };
}

/** Whether the buffer still holds everything after `from` (and `from` belongs to this epoch). */
export function replayable(log: EventLog, orgId: string, service: string, from: number): boolean {
  return from <= log.head(orgId, service) && from >= log.oldest(orgId, service) - 1;
}

/** What it takes to bring one service of a client from `from` to the head. */
export interface ServiceCatchUp {
  frames: (BatchFrame | ResetFrame)[];
  /** Events the batch frames carry. */
  eventCount: number;
}

/**
 * The frames that bring a client holding `from` for `service` up to the
 * head: batch frames of the buffered events it lacks (property-filtered,
 * at most `maxBatchSize` each), or one `reset` when the buffer no longer
 * reaches back to `from` (`buffer_expired`) or `from` is ahead of the head,
 * which only a wiped log explains (`epoch_changed`). The last batch's
 * `cursor` is the head, since the events filtered out after it are
 * accounted for too. When every missing event is filtered out there is
 * nothing to send, and the client's cursor stays where it is, as on the live
 * path; unless it lags the head by `advanceAt` seqs or more: then one empty
 * batch moves it to the head, before the buffer moves past it and the next
 * catch-up could only answer with a `reset` for events the client never
 * wanted (see `cursorAdvanceAt`).
 */
export function catchUpService(
  log: EventLog,
  orgId: string,
  service: string,
  from: number,
  propertyIds: readonly string[] | null,
  maxBatchSize: number,
  advanceAt = Number.POSITIVE_INFINITY,
): ServiceCatchUp {
  const head = log.head(orgId, service);
  if (from > head || from < log.oldest(orgId, service) - 1) {
    const reason: ResetReason = from > head ? 'epoch_changed' : 'buffer_expired';
    return {
      frames: [{ type: 'reset', services: [service], cursor: { [service]: head }, reason }],
      eventCount: 0,
    };
  }
  const events = log.eventsAfter(orgId, service, from).filter((e) => matchesPropertyFilter(e, propertyIds));
  if (events.length === 0 && head - from >= advanceAt) {
    return { frames: [filteredOut(service, from, head)], eventCount: 0 };
  }
  const frames: BatchFrame[] = [];
  let after = from;
  for (let start = 0; start < events.length; start += maxBatchSize) {
    const chunk = events.slice(start, start + maxBatchSize);
    const isLast = start + maxBatchSize >= events.length;
    const cursor = isLast ? head : (chunk[chunk.length - 1]?.seq ?? head);
    frames.push({ type: 'batch', events: chunk, after: { [service]: after }, cursor: { [service]: cursor } });
    after = cursor;
  }
  return { frames, eventCount: events.length };
}
