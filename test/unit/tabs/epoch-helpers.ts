import { vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { Cursor, RealtimeEvent } from '../../../src/protocol/schemas';
import type { MemoryBackend } from '../../../src/testing/memory-backend';

// What the tests of a tab's cursor across resets and absences share
// (rejoin-cursor.test.ts, missed-reset.test.ts).

/** Subscribes `rt` to `service`; returns the seqs its handler got, in order. */
export function record(rt: RealtimeClient, service = 'tasks'): number[] {
  const seqs: number[] = [];
  rt.subscribe(service, (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

/** Records every `resync` `rt` fires, in order. */
export function recordResyncs(rt: RealtimeClient): unknown[] {
  const resyncs: unknown[] = [];
  rt.on('resync', (info) => resyncs.push(info));
  return resyncs;
}

/** An event of `tasks` in a new epoch (seqs started over after a reset). */
export const epochEvent = (seq: number): RealtimeEvent => ({
  service: 'tasks',
  entityType: 'item',
  type: 'item.updated',
  eventId: `epoch2_${seq}`,
  seq,
  ts: Date.now(),
  orgId: 'org_test',
});

/** Lets the fake timers run the tabs' messages and the backend's frames. */
export const settle = () => vi.advanceTimersByTimeAsync(50);

/** A `pagehide`/`pageshow` of the back/forward cache (`persisted`). */
export const page = (type: 'pagehide' | 'pageshow') => Object.assign(new Event(type), { persisted: true });

/** Records the cursor of every connect to `backend` from now on, in order. */
export function recordCursors(backend: MemoryBackend): Cursor[] {
  const cursors: Cursor[] = [];
  const connect = backend.transport.connect.bind(backend.transport);
  backend.transport.connect = (ctx) => {
    cursors.push({ ...ctx.cursor });
    return connect(ctx);
  };
  return cursors;
}

/** Makes `backend`'s connects take `ms` to reach it, as over a slow network; `onConnect` runs as one starts. */
export function slowConnects(backend: MemoryBackend, ms: number, onConnect: () => void): void {
  const { transport } = backend;
  const connect = transport.connect.bind(transport);
  transport.connect = async (ctx) => {
    onConnect();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return connect(ctx);
  };
}
