import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { LEFT_SERVICES_MAX } from '../../src/pipeline/event-pipeline';
import type { Cursor } from '../../src/protocol/schemas';
import { createFakeBrowser, globalTimersClock } from '../../src/testing/fake-browser';
import { createMemoryBackend, type MemoryBackend } from '../../src/testing/memory-backend';
import type { Transport } from '../../src/transports/types';

// A long-lived SPA that subscribes one service per record page it shows
// (`record:<id>`) and unsubscribes on leaving it. What the tab keeps, and
// sends, for the pages it left must not grow with the pages it visited.

const VISITS = 300;

/** The memory backend's transport, noting the cursor of every connect and poll. */
function recording(backend: MemoryBackend): { transport: Transport; cursors: Cursor[] } {
  const cursors: Cursor[] = [];
  return {
    cursors,
    transport: {
      name: 'memory',
      connect(ctx) {
        cursors.push(ctx.cursor);
        const getCursor = ctx.getCursor;
        return backend.transport.connect({
          ...ctx,
          // Long-poll asks this before every poll, to put in its URL.
          getCursor: getCursor && (() => cursors[cursors.push(getCursor()) - 1]!),
        });
      },
    },
  };
}

const clients: RealtimeClient[] = [];

function client(transport: Transport): RealtimeClient {
  const rt = createRealtime({
    url: 'http://tabwire.test/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [transport],
    leader: { strategy: 'none' },
    devtools: false,
    platform: { clock: globalTimersClock, random: () => 0.5 },
  });
  clients.push(rt);
  return rt;
}

/** Visits `count` record pages: each subscribed, sent an event, then left. */
async function visit(rt: RealtimeClient, backend: MemoryBackend, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const service = `record:${i}`;
    const off = rt.subscribe(service, () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service });
    off();
  }
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('distinct services churn', () => {
  it('connects with the cursor of the subscribed services only, however many were visited', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const { transport, cursors } = recording(backend);
    const rt = client(transport);
    const seqs: number[] = [];
    rt.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    await visit(rt, backend, VISITS);
    expect(rt.getState().services).toEqual(['tasks']);
    // A reconnect (a network blip) resumes from the cursor.
    backend.drop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(backend.connectionCount).toBe(1);
    // Was 301 services: SSE and long-poll put it in the URL (long-poll in
    // every poll), past a server's header limit after a few hundred pages.
    expect(Object.keys(cursors.at(-1)!)).toEqual(['tasks']);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2]);
    // The pipeline keeps the cursors of the pages left last, on purpose: a
    // page visited again soon is replayed what it missed (see below).
    expect(Object.keys(rt.getState().cursor)).toHaveLength(LEFT_SERVICES_MAX + 1);
  });

  it('replays a page visited again from its kept cursor', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    const first: number[] = [];
    const off = rt.subscribe('record:1', (events) => first.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record:1' });
    off();
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record:1' });
    backend.publish({ service: 'record:1' });
    const again: number[] = [];
    rt.subscribe('record:1', (events) => again.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record:1' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(first).toEqual([1]);
    expect(again).toEqual([2, 3, 4]);
  });

  it('keeps per-service figures of at most 64 services left, the latest', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    await visit(rt, backend, VISITS);
    const state = rt.getState();
    // Was one entry per page ever visited, each copied again by every batch
    // (a batch cost about 3 ms after 3,000 pages, 0.03 ms before any).
    const latest = Array.from({ length: 64 }, (_, i) => `record:${VISITS - 64 + i}`);
    expect(Object.keys(state.byServiceDelivered).sort()).toEqual(['tasks', ...latest].sort());
    expect(Object.keys(state.byServiceLastEventAt).sort()).toEqual(['tasks', ...latest].sort());
    expect(state.byServiceDelivered.tasks).toBe(1);
    expect(state.byServiceDelivered[`record:${VISITS - 1}`]).toBe(1);
  });

  it('in a follower, neither the state nor the leader connect grows with the pages visited', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const { transport, cursors } = recording(backend);
    const browser = createFakeBrowser({ backend, defaults: { transports: [transport] } });
    try {
      const leader = browser.tab();
      leader.subscribe('tasks', () => {});
      await vi.advanceTimersByTimeAsync(0);
      const follower = browser.tab();
      follower.subscribe('tasks', () => {});
      await vi.advanceTimersByTimeAsync(0);
      expect(browser.leaders()).toEqual([leader]);
      for (let i = 0; i < VISITS; i++) {
        const off = follower.subscribe(`record:${i}`, () => {});
        await vi.advanceTimersByTimeAsync(0);
        backend.publish({ service: `record:${i}` });
        await vi.advanceTimersByTimeAsync(0);
        off();
        await vi.advanceTimersByTimeAsync(0);
      }
      expect(Object.keys(follower.getState().byServiceDelivered)).toHaveLength(64);
      // Every tab's pipeline keeps the state of the services left last only.
      expect(Object.keys(follower.getState().cursor)).toHaveLength(LEFT_SERVICES_MAX + 1);
      expect(Object.keys(leader.getState().cursor)).toHaveLength(LEFT_SERVICES_MAX + 1);
      backend.drop();
      await vi.advanceTimersByTimeAsync(30_000);
      expect(backend.connectionCount).toBe(1);
      expect(Object.keys(cursors.at(-1)!)).toEqual(['tasks']);
    } finally {
      await browser.close();
    }
  });
});

// Follow-ups found by a review: which figures are kept, a service back in
// the union, and the per-service latency sketches.
describe('figures of services left', () => {
  it('keeps the figures of the service left last, however early it was first subscribed', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    const offTasks = rt.subscribe('tasks', () => {});
    rt.subscribe('home', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    for (let i = 0; i < 70; i++) {
      const off = rt.subscribe(`record:${i}`, () => {});
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: `record:${i}` });
      off();
    }
    await vi.advanceTimersByTimeAsync(0);
    // 'tasks' is the service left last: its figures are among the latest 64.
    offTasks();
    await vi.advanceTimersByTimeAsync(0);
    const state = rt.getState();
    expect(state.byServiceDelivered.tasks).toBe(1);
    expect(Object.keys(state.byServiceDelivered)).toHaveLength(64);
  });
});

describe('a service back in the union', () => {
  // Not a defect, the cost of the design: over a stream, each return of a
  // service that had events while out is one reconnect (counted in
  // counters.reconnects), never more, and nothing is lost or repeated.
  it('reconnects once per return with missed events, never in a loop', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    const got: number[] = [];
    let off = rt.subscribe('record', (events) => got.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record' });
    const before = backend.connectCount;
    for (let i = 0; i < 5; i++) {
      off();
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'record' });
      off = rt.subscribe('record', (events) => got.push(...events.map((e) => e.seq)));
      await vi.advanceTimersByTimeAsync(3_000);
    }
    await vi.advanceTimersByTimeAsync(30_000);
    expect(backend.connectCount - before).toBe(5);
    expect(rt.getState().counters.reconnects).toBe(5);
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
    expect(backend.connectionCount).toBe(1);
  });
});

describe('per-service latency of services left', () => {
  it('keeps no more p95 figures than the other per-service figures', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = createRealtime({
      url: 'http://tabwire.test/v2/realtime',
      scope: { orgId: 'org_test', userId: 'u_1' },
      transports: [backend.transport],
      leader: { strategy: 'none' },
      devtools: false,
      telemetry: { measure: 'always', sampleRate: 0 },
      platform: { clock: globalTimersClock, random: () => 0.5 },
    });
    clients.push(rt);
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 100; i++) {
      const off = rt.subscribe(`record:${i}`, () => {});
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: `record:${i}` });
      off();
    }
    await vi.advanceTimersByTimeAsync(60_000);
    const state = rt.getState();
    expect(state.sli.measured).toBe(true);
    expect(Object.keys(state.byServiceDelivered)).toHaveLength(64);
    // Was one per service ever delivered, evaluated and copied every tick, and
    // a sketch each kept by the collector: the pruning undone for this figure.
    expect(Object.keys(state.byServiceP95LatencyMs).sort()).toEqual(
      Object.keys(state.byServiceDelivered).sort(),
    );
  });
});

// What the pipeline and the epochs keep of the services left: a cursor and a
// dedup window (up to thousands of keys) each, for every service the page
// ever had, and an epoch id for every one that was ever reset.
describe('the state of services left', () => {
  it('keeps the cursor and dedup memory of the services left last only', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    await visit(rt, backend, VISITS);
    const latest = Array.from({ length: LEFT_SERVICES_MAX }, (_, i) => `record:${VISITS - 64 + i}`);
    // Was one per page ever visited (301).
    expect(Object.keys(rt.getState().cursor).sort()).toEqual(['tasks', ...latest].sort());
  });

  it('a page left recently and visited again resumes from its cursor, deduplicated', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    const first: number[] = [];
    const off = rt.subscribe('record', (events) => first.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record', eventId: 'e1' });
    off();
    // As many other pages as are kept, and one less: its state stays.
    await visit(rt, backend, LEFT_SERVICES_MAX - 1);
    backend.publish({ service: 'record', eventId: 'e2' });
    // A publisher's retry of e1, under a new seq.
    backend.publish({ service: 'record', eventId: 'e1' });
    const again: number[] = [];
    rt.subscribe('record', (events) => again.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record', eventId: 'e3' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(first).toEqual([1]);
    expect(again).toEqual([2, 4]);
    expect(rt.getState().byServiceSuppressed.record).toBe(1);
  });

  it('a page left long ago and visited again starts at the server, once, with no gap', async () => {
    // The trade-off of the bound: what it missed while out is not replayed
    // (a new subscription's handlers start from now, as on a first visit).
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const rt = client(backend.transport);
    rt.subscribe('tasks', () => {});
    const off = rt.subscribe('record', () => {});
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record' });
    off();
    await visit(rt, backend, LEFT_SERVICES_MAX);
    backend.publish({ service: 'record' });
    const again: number[] = [];
    rt.subscribe('record', (events) => again.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'record' });
    backend.publish({ service: 'record' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(again).toEqual([3, 4]);
    expect(rt.getState().counters.gaps).toBe(0);
    expect(rt.getState().cursor.record).toBe(4);
  });

  it("a leader's epochs (told to every tab that joins) cover the services left last only", async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const browser = createFakeBrowser({ backend });
    try {
      const leader = browser.tab();
      leader.subscribe('tasks', () => {});
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < VISITS; i++) {
        const off = leader.subscribe(`record:${i}`, () => {});
        await vi.advanceTimersByTimeAsync(0);
        // The server restarted the stream of that document: a new epoch.
        backend.reset([`record:${i}`]);
        off();
      }
      await vi.advanceTimersByTimeAsync(0);
      const answers: Record<string, string>[] = [];
      const proto = (
        browser.channels.BroadcastChannel as unknown as { prototype: { postMessage(m: unknown): void } }
      ).prototype;
      const post = proto.postMessage;
      proto.postMessage = function (this: unknown, message: unknown) {
        const parsed = JSON.parse(String(message));
        if (parsed.type === 'cursor' && parsed.epochs) answers.push(parsed.epochs);
        post.call(this, message);
      };
      const follower = browser.tab();
      follower.subscribe('tasks', () => {});
      await vi.advanceTimersByTimeAsync(50);
      proto.postMessage = post;
      expect(answers.length).toBeGreaterThan(0);
      // Was one per document ever reset (300), in every answer.
      expect(Object.keys(answers.at(-1)!)).toHaveLength(LEFT_SERVICES_MAX);
    } finally {
      await browser.close();
    }
  });
});
