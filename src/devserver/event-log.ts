import type { RealtimeEvent } from '../protocol/schemas';
import type { PublishInput } from './types';

/** An event as `publish` takes it, before the log numbers it. */
export type UnnumberedEvent = PublishInput;

/**
 * One (org, service) stream: its head seq and a ring of the newest events.
 * Seqs in the ring are contiguous, so the event with seq `s` sits at a
 * computable slot and a replay costs only the events it returns.
 */
class ServiceStream {
  head = 0;
  private readonly ring: (RealtimeEvent | undefined)[];
  private count = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<RealtimeEvent | undefined>(capacity);
  }

  /** Oldest seq still buffered; `head + 1` when the buffer is empty. */
  get oldest(): number {
    return this.head - this.count + 1;
  }

  push(event: RealtimeEvent): void {
    this.head = event.seq;
    this.ring[event.seq % this.capacity] = event;
    if (this.count < this.capacity) this.count++;
  }

  /** Buffered events with `after < seq <= upTo`; the caller checks the range is buffered. */
  slice(after: number, upTo: number): RealtimeEvent[] {
    const out: RealtimeEvent[] = [];
    for (let seq = Math.max(after + 1, this.oldest); seq <= Math.min(upTo, this.head); seq++) {
      const event = this.ring[seq % this.capacity];
      if (event) out.push(event);
    }
    return out;
  }
}

/**
 * The dev server's store of events: a seq per (org, service) that goes up by
 * exactly 1 from 1, and a bounded replay buffer per (org, service). It lives
 * as long as the DevServer object, so `stop()`/`start()` keep it; `wipe()`
 * starts a new epoch in which every seq restarts at 1.
 */
export class EventLog {
  private readonly streams = new Map<string, ServiceStream>();
  private eventCounter = 0;
  /** Bumped by every `wipe()`. */
  epoch = 1;
  /** Events appended since the server was created (all epochs). */
  appendedTotal = 0;

  constructor(
    private readonly bufferSize: number,
    private readonly now: () => number,
  ) {}

  // "\u0000" cannot occur in an org id that arrived as JSON text from a
  // client in any sensible form, and never in a service name.
  private key(orgId: string, service: string): string {
    return `${orgId}\u0000${service}`;
  }

  private stream(orgId: string, service: string): ServiceStream | undefined {
    return this.streams.get(this.key(orgId, service));
  }

  /** Numbers an event, fills `ts`, `orgId` and a missing `eventId`, and stores it. */
  append(orgId: string, input: UnnumberedEvent): RealtimeEvent {
    const key = this.key(orgId, input.service);
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new ServiceStream(this.bufferSize);
      this.streams.set(key, stream);
    }
    this.eventCounter++;
    // The counter is not reset by wipe(), so event ids stay unique across
    // epochs and a client's dedup never mistakes a new event for an old one.
    const event: RealtimeEvent = {
      service: input.service,
      entityType: input.entityType,
      type: input.type,
      eventId: input.eventId ?? `evt_${this.eventCounter}`,
      seq: stream.head + 1,
      ts: input.ts ?? this.now(),
      orgId,
    };
    if (input.propertyId !== undefined) event.propertyId = input.propertyId;
    if (input.mutationId !== undefined) event.mutationId = input.mutationId;
    if (input.data !== undefined) event.data = input.data;
    stream.push(event);
    this.appendedTotal++;
    return event;
  }

  /** Last seq of the service; 0 before its first event. */
  head(orgId: string, service: string): number {
    return this.stream(orgId, service)?.head ?? 0;
  }

  /** Oldest buffered seq; `head + 1` when nothing is buffered. */
  oldest(orgId: string, service: string): number {
    return this.stream(orgId, service)?.oldest ?? 1;
  }

  /** Buffered events with `after < seq <= upTo` (default: to the head), in seq order. */
  eventsAfter(
    orgId: string,
    service: string,
    after: number,
    upTo = Number.MAX_SAFE_INTEGER,
  ): RealtimeEvent[] {
    return this.stream(orgId, service)?.slice(after, upTo) ?? [];
  }

  /** Forgets every event and seq: a new epoch. */
  wipe(): void {
    this.streams.clear();
    this.epoch++;
  }
}
