import type {
  PipelineGap,
  PipelineResync,
  PipelineSink,
  SuppressReason,
} from '../../../src/pipeline/event-pipeline';
import type { BatchFrame, Cursor, RealtimeEvent } from '../../../src/protocol/schemas';

/** An event like PROTOCOL.md's example; `eventId` defaults to one derived from service and seq. */
export function makeEvent(service: string, seq: number, extra: Partial<RealtimeEvent> = {}): RealtimeEvent {
  return {
    service,
    entityType: 'task',
    type: 'task.updated',
    eventId: `evt_${service}_${seq}`,
    seq,
    ts: 1763800000000 + seq,
    orgId: 'org_1',
    ...extra,
  };
}

/** A batch of one service with events `seqs`, continuing from `after` up to `cursor` (default: the last seq). */
export function makeBatch(service: string, after: number, seqs: number[], cursor?: number): BatchFrame {
  return {
    type: 'batch',
    events: seqs.map((seq) => makeEvent(service, seq)),
    after: { [service]: after },
    cursor: { [service]: cursor ?? Math.max(after, ...seqs) },
  };
}

export type SinkCall =
  | { kind: 'events'; service: string; seqs: number[]; cursorSeen: Cursor }
  | { kind: 'gap'; gap: PipelineGap }
  | { kind: 'resync'; reset: PipelineResync }
  | { kind: 'suppressed'; service: string; count: number; reason: SuppressReason };

/** A sink that records every call; `cursorOf` lets it snapshot the pipeline's cursor when events arrive. */
export class RecordingSink implements PipelineSink {
  readonly calls: SinkCall[] = [];
  readonly delivered = new Map<string, RealtimeEvent[]>();
  cursorOf: () => Cursor = () => ({});

  onEvents(service: string, events: RealtimeEvent[]): void {
    this.calls.push({ kind: 'events', service, seqs: events.map((e) => e.seq), cursorSeen: this.cursorOf() });
    const list = this.delivered.get(service) ?? [];
    list.push(...events);
    this.delivered.set(service, list);
  }
  onGap(gap: PipelineGap): void {
    this.calls.push({ kind: 'gap', gap });
  }
  onResync(reset: PipelineResync): void {
    this.calls.push({ kind: 'resync', reset });
  }
  onSuppressed(service: string, count: number, reason: SuppressReason): void {
    this.calls.push({ kind: 'suppressed', service, count, reason });
  }

  seqs(service: string): number[] {
    return (this.delivered.get(service) ?? []).map((e) => e.seq);
  }
  suppressed(service: string, reason: SuppressReason): number {
    let total = 0;
    for (const call of this.calls) {
      if (call.kind === 'suppressed' && call.service === service && call.reason === reason)
        total += call.count;
    }
    return total;
  }
  gaps(): PipelineGap[] {
    return this.calls.flatMap((call) => (call.kind === 'gap' ? [call.gap] : []));
  }
  clear(): void {
    this.calls.length = 0;
    this.delivered.clear();
  }
}
