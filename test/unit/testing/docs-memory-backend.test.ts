import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient, type RealtimeOptions } from '../../../src';
import { createFakeBrowser, createMemoryBackend, type MemoryBackend } from '../../../src/testing';

// docs/testing.md, "The memory backend": its sample as written, and what
// each row of its table promises the client sees.

let backend: MemoryBackend;
let current: RealtimeClient | undefined;
const seqs: number[] = [];
const resyncs: string[][] = [];
const fallbacks: string[] = [];

function open(extra: Partial<RealtimeOptions> = {}): RealtimeClient {
  backend = createMemoryBackend({ heartbeatMs: 30_000, orgId: 'org_test' });
  const rt = createRealtime({
    url: 'http://tabwire.test/v2/realtime', // never fetched
    transports: [backend.transport],
    leader: { strategy: 'none' }, // one tab, no election
    devtools: false,
    telemetry: { sampleRate: 0 },
    ...extra,
  });
  rt.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
  rt.on('resync', ({ services }) => resyncs.push(services));
  rt.on('fallback', ({ reason }) => fallbacks.push(reason));
  current = rt;
  return rt;
}

beforeEach(() => {
  vi.useFakeTimers();
  seqs.length = 0;
  resyncs.length = 0;
  fallbacks.length = 0;
});
afterEach(async () => {
  await current?.close();
  current = undefined;
  vi.useRealTimers();
});

describe('docs/testing.md: the memory backend', () => {
  it('publish and publishBatch reach a connected client at once', async () => {
    const rt = open();
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    const event = backend.publish({ service: 'tasks', eventId: 'a' });
    expect(event).toMatchObject({ seq: 1, orgId: 'org_test', eventId: 'a' });
    expect(seqs).toEqual([1]);
    backend.publishBatch([{ service: 'tasks' }, { service: 'tasks' }]);
    expect(seqs).toEqual([1, 2, 3]);
    expect(backend.log('tasks').map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(backend.connectionCount).toBe(1);
    expect(backend.connectCount).toBe(1);
  });

  it('loseNextBatches makes a gap the client replays; skip makes none; skip with reset resyncs', async () => {
    open();
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    backend.loseNextBatches(1);
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(seqs).toEqual([1, 2, 3]);
    expect(backend.connectCount).toBe(2);

    backend.skip('tasks', 3);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2, 3, 7]);
    expect(resyncs).toEqual([]);

    backend.skip('tasks', 2);
    backend.reset(['tasks']);
    expect(resyncs).toEqual([['tasks']]);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2, 3, 7, 10]);
  });

  it('error frames: overloaded and bad_request are transient, forbidden falls back', async () => {
    const rt = open();
    await vi.advanceTimersByTimeAsync(0);
    backend.error('overloaded', 'busy', 2000);
    await vi.advanceTimersByTimeAsync(10_000);
    backend.error('bad_request');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().status).toBe('connected');
    expect(fallbacks).toEqual([]);
    backend.error('forbidden', 'access revoked');
    expect(fallbacks).toHaveLength(1);
    expect(rt.getState().status).toBe('disabled');
  });

  it('drop, failNextConnects and silence: the client reconnects, backs off, times out', async () => {
    const rt = open();
    await vi.advanceTimersByTimeAsync(0);
    backend.drop(503);
    expect(backend.connectionCount).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.connectionCount).toBe(1);

    const before = backend.connectCount;
    backend.failNextConnects(2);
    backend.drop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(backend.connectCount).toBe(before + 3); // two refused, one that held
    expect(rt.getState().status).toBe('connected');

    backend.silence(true);
    backend.drop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(rt.getState().status).not.toBe('connected');
    expect(backend.connectCount).toBeGreaterThan(before + 4); // attempts that got no welcome
  });

  it('unauthorized refreshes the token: with auth, tests wait for its on-demand code first', async () => {
    let tokens = 0;
    const rt = open({ auth: { getToken: async () => `token_${++tokens}` } });
    await vi.dynamicImportSettled(); // the token provider loads on demand
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    expect(tokens).toBe(1);
    backend.error('unauthorized');
    await vi.advanceTimersByTimeAsync(5000);
    expect(tokens).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });
});

describe('docs/testing.md: the fake browser sample', () => {
  it("takes defaults for every tab, the tab's own options winning", async () => {
    const shared = createMemoryBackend({ heartbeatMs: 30_000 });
    const browser = createFakeBrowser({ backend: shared, defaults: { leader: { strategy: 'storage' } } });
    const tab = browser.tab({ scope: { orgId: 'o', userId: 'u' } });
    const other = browser.tab({ scope: { orgId: 'o', userId: 'u' }, leader: { strategy: 'locks' } });
    const got: number[] = [];
    tab.subscribe('tasks', (events) => got.push(...events.map((e) => e.seq)));
    await vi.dynamicImportSettled(); // the storage lease loads on demand
    await vi.advanceTimersByTimeAsync(5000);
    expect(tab.getState().electionStrategy).toBe('storage');
    expect(other.getState().electionStrategy).toBe('locks');
    shared.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([1]);
    await browser.close();
  });
});
