import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { FakeLockManager as FakeLocks } from '../../../src/testing';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';

// Several "tabs" in one Node process: each client is a tab; they share a fake
// Web Locks manager and talk over Node's real BroadcastChannel. The backend
// counts connections, so "one connection per browser" is checked directly.

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let scopeCounter = 0;

function browser(backend: MemoryBackend, extra: Partial<RealtimeOptions> = {}) {
  const locks = new FakeLocks();
  const orgId = `org_relay_${++scopeCounter}`;
  return (more: Partial<RealtimeOptions> = {}): RealtimeClient => {
    const rt = createRealtime({
      url: 'http://127.0.0.1:1/v2/realtime',
      scope: { orgId, userId: 'u_1' },
      transports: [backend.transport],
      devtools: false,
      idleGraceMs: 0,
      telemetry: { sampleRate: 0 }, // sampling is random (2 %): tests decide it
      ...extra,
      ...more,
      platform: { locks, ...more.platform },
    });
    clients.push(rt);
    return rt;
  };
}

function record(rt: RealtimeClient, service = 'tasks'): number[] {
  const seqs: number[] = [];
  rt.subscribe(service, (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const leaders = (tabs: RealtimeClient[]) => tabs.filter((t) => t.getState().isLeader);

describe('one connection per browser (Node, fake locks, real BroadcastChannel)', () => {
  it('elects one leader, opens one connection, and delivers every event to every tab once', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab(), tab()];
    const seqs = tabs.map((t) => record(t));
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'all connected');
    expect(backend.connectCount).toBe(1);
    expect(leaders(tabs)).toHaveLength(1);
    const leaderId = leaders(tabs)[0]?.getState().tabId;
    await until(() => tabs.every((t) => t.getState().leaderTabId === leaderId), 'agreement on the leader');
    for (const t of tabs) {
      expect(t.getState().electionStrategy).toBe('locks');
      expect(t.getState().transport).toBe('memory');
    }
    for (let i = 0; i < 20; i++) backend.publish({ service: 'tasks' });
    await until(() => seqs.every((s) => s.length >= 20), 'all events');
    for (const s of seqs) expect(s).toEqual(range(1, 20));
  });

  it('hands over to another tab when the leader closes, losing and repeating nothing', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab(), tab()];
    const seqs = tabs.map((t) => record(t));
    await until(() => leaders(tabs).length === 1 && backend.connectionCount === 1, 'a leader');
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    const old = leaders(tabs)[0] as RealtimeClient;
    const survivors = tabs.filter((t) => t !== old);
    await until(
      () => survivors.every((_, i) => (seqs[tabs.indexOf(survivors[i] as RealtimeClient)] ?? []).length >= 2),
      '2 events',
    );
    await old.close();
    // Published while nobody holds the connection: the next leader's cursor brings them back.
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    await until(() => leaders(survivors).length === 1 && backend.connectionCount === 1, 'a new leader');
    backend.publish({ service: 'tasks' });
    for (const t of survivors) {
      const s = seqs[tabs.indexOf(t)] as number[];
      await until(() => s.length >= 5, 'all 5 events');
      expect(s).toEqual(range(1, 5));
    }
    expect(backend.connectCount).toBe(2);
    expect(leaders(survivors)[0]?.getState().leader.lastTakeoverMs).toBeTypeOf('number');
    expect(leaders(survivors)[0]?.getState().leader.elections).toBe(1);
  });

  it("subscribes to the union of the tabs' needs in place, and each tab filters its own", async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const a = tab();
    const b = tab();
    const aTasks = record(a);
    await until(() => a.getState().status === 'connected', 'a connected');
    const bTasks: Array<[number, string | null | undefined]> = [];
    b.subscribe('tasks', (events) => {
      for (const e of events) bTasks.push([e.seq, e.propertyId]);
    });
    b.setPropertyFilter('p2');
    const bFinance = record(b, 'finance');
    await until(() => b.getState().status === 'connected', 'b connected');
    await new Promise((r) => setTimeout(r, 50));
    backend.publish({ service: 'finance' });
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    backend.publish({ service: 'tasks', propertyId: 'p2' });
    backend.publish({ service: 'tasks' });
    await until(() => aTasks.length >= 3 && bTasks.length >= 2 && bFinance.length >= 1, 'events');
    await new Promise((r) => setTimeout(r, 30));
    expect(aTasks).toEqual([1, 2, 3]);
    expect(bTasks).toEqual([
      [2, 'p2'],
      [3, undefined],
    ]);
    expect(bFinance).toEqual([1]);
    expect(backend.connectCount).toBe(1);
    expect(a.getState().byServiceDelivered.finance).toBeUndefined();
  });

  it('turns every tab off when the kill switch is set in any one of them', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab(), tab()];
    const fallbacks: string[][] = tabs.map(() => []);
    tabs.forEach((t, i) => {
      record(t);
      t.on('fallback', (f) => fallbacks[i]?.push(f.reason));
    });
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'connected');
    const follower = tabs.find((t) => !t.getState().isLeader) as RealtimeClient;
    follower.setFlags({ emergencyDisable: true });
    await until(() => tabs.every((t) => t.getState().status === 'disabled'), 'all disabled');
    expect(backend.connectionCount).toBe(0);
    expect(fallbacks).toEqual([['emergency_disable'], ['emergency_disable'], ['emergency_disable']]);
    follower.setFlags({ emergencyDisable: false });
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'connected again');
    expect(backend.connectionCount).toBe(1);
  });

  it('keeps tabs of another org or user apart', async () => {
    const backendA = createMemoryBackend({ heartbeatMs: 60_000, orgId: 'a' });
    const backendB = createMemoryBackend({ heartbeatMs: 60_000, orgId: 'b' });
    const locks = new FakeLocks();
    const make = (backend: MemoryBackend, orgId: string, userId: string) => {
      const rt = createRealtime({
        url: 'http://127.0.0.1:1/v2/realtime',
        scope: { orgId, userId },
        transports: [backend.transport],
        devtools: false,
        telemetry: { sampleRate: 0 },
        platform: { locks },
      });
      clients.push(rt);
      return rt;
    };
    const suffix = ++scopeCounter;
    const a1 = make(backendA, `A${suffix}`, 'u1');
    const a2 = make(backendA, `A${suffix}`, 'u2');
    const b1 = make(backendB, `B${suffix}`, 'u1');
    const seqs = [record(a1), record(a2), record(b1)];
    await until(() => [a1, a2, b1].every((t) => t.getState().status === 'connected'), 'connected');
    expect([a1, a2, b1].every((t) => t.getState().isLeader)).toBe(true);
    expect(backendA.connectCount).toBe(2);
    expect(backendB.connectCount).toBe(1);
    backendA.publish({ service: 'tasks' });
    await until(() => (seqs[0]?.length ?? 0) >= 1 && (seqs[1]?.length ?? 0) >= 1, 'org A events');
    await new Promise((r) => setTimeout(r, 30));
    expect(seqs).toEqual([[1], [1], []]);
    expect(a1.getState().leader.peers).toBe(0);
  });

  it('counts and drops foreign messages on the channel', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const a = tab();
    record(a);
    await until(() => a.getState().status === 'connected', 'connected');
    const name = `tabwire:v1:tabwire:org_relay_${scopeCounter}:u_1`;
    const intruder = new BroadcastChannel(name);
    intruder.postMessage('{"v":1,"from":"x","type":"takeover-now"}');
    intruder.postMessage({ hello: 'world' });
    intruder.postMessage('{not json');
    await until(() => a.getState().counters.invalidTabMessages >= 3, 'counted');
    intruder.close();
    expect(a.getState().status).toBe('connected');
  });

  it('counts a relayed frame it cannot read as a bad tab message, not against the guard', async () => {
    // A leader relays only frames it parsed: one a follower cannot read comes
    // from another deploy's tab or a rogue one, not from the server, and
    // counted as the server's it tripped the follower's rollback guard.
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab()];
    for (const t of tabs) record(t);
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'connected');
    const follower = tabs.find((t) => !t.getState().isLeader) as RealtimeClient;
    const name = `tabwire:v1:tabwire:org_relay_${scopeCounter}:u_1`;
    const intruder = new BroadcastChannel(name);
    for (let i = 0; i < 25; i++)
      intruder.postMessage({ v: 1, from: 'rogue', type: 'frame', frame: 'garbage' });
    await until(() => follower.getState().counters.invalidTabMessages >= 25, 'counted');
    intruder.close();
    expect(follower.getState().counters.invalidFrames).toBe(0);
    expect(follower.getState().rollback.state).toBe('ok');
    expect(follower.getState().status).toBe('connected');
  });

  it('has the leader replay for a follower that found a gap', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab()];
    const seqs = tabs.map((t) => record(t));
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'connected');
    backend.publish({ service: 'tasks' });
    await until(() => seqs.every((s) => s.length === 1), 'first event');
    const follower = tabs.find((t) => !t.getState().isLeader) as RealtimeClient;
    // A frame only the follower sees, claiming seqs 2..4 were sent: a gap for it.
    const intruder = new BroadcastChannel(`tabwire:v1:tabwire:org_relay_${scopeCounter}:u_1`);
    intruder.postMessage(
      JSON.stringify({
        v: 1,
        from: 'someone',
        type: 'frame',
        frame: { type: 'batch', events: [], after: { tasks: 4 }, cursor: { tasks: 4 } },
      }),
    );
    await until(() => follower.getState().counters.gaps === 1, 'the gap');
    await until(() => backend.connectCount === 2, 'the leader reconnecting from the older cursor');
    intruder.close();
    backend.publish({ service: 'tasks' });
    await until(() => seqs.every((s) => s.length >= 2), 'the next event');
    for (const s of seqs) expect(s).toEqual([1, 2]);
  });

  it('resumes from the persisted cursor after every tab was closed (persistCursor)', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const indexedDB = new IDBFactory();
    const tab = browser(backend, { persistCursor: true });
    const first = tab({ platform: { indexedDB } });
    const before = record(first);
    await until(() => first.getState().status === 'connected', 'connected');
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    await until(() => before.length === 3, '3 events');
    await first.close();
    // Published while the app is closed.
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    const reopened = tab({ platform: { indexedDB } });
    const after = record(reopened);
    await until(() => after.length >= 2, 'the missed events');
    expect(after).toEqual([4, 5]);

    // Without it, a reopened app starts at the head and misses them.
    const plain = browser(backend)();
    const fresh = record(plain);
    await until(() => plain.getState().status === 'connected', 'connected');
    backend.publish({ service: 'tasks' });
    await until(() => fresh.length >= 1, 'a live event');
    expect(fresh).toEqual([6]);
  });

  // Regressions from a review of the relay (each failed before its fix).

  it("keeps a joining tab's own kill switch against the leader's older flags", async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const old = tab();
    record(old);
    await until(() => old.getState().status === 'connected', 'leader connected');
    const fresh = tab({ flags: { emergencyDisable: true } });
    const seqs = record(fresh);
    await new Promise((r) => setTimeout(r, 100));
    backend.publish({ service: 'tasks' });
    await new Promise((r) => setTimeout(r, 50));
    expect(fresh.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(seqs).toEqual([]);
  });

  it('lets a tab that went idle come back at the shared cursor, without a replay for it', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const leader = tab();
    record(leader);
    await until(() => leader.getState().status === 'connected', 'leader connected');
    const b = tab();
    const off = b.subscribe('tasks', () => {});
    await until(() => b.getState().status === 'connected', 'b connected');
    backend.publish({ service: 'tasks' });
    await until(() => b.getState().cursor.tasks === 1, 'b saw seq 1');
    off();
    await until(() => b.getState().status === 'idle', 'b idle');
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    const again = record(b);
    await until(() => b.getState().status === 'connected', 'b back');
    await new Promise((r) => setTimeout(r, 50));
    backend.publish({ service: 'tasks' });
    await until(() => again.length >= 1, 'a live event');
    await new Promise((r) => setTimeout(r, 30));
    expect(again).toEqual([7]);
    expect(b.getState().counters.gaps).toBe(0);
    expect(backend.connectCount).toBe(1);
  });

  it('never shows followers a closed status when the leader closes', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const tab = browser(backend);
    const tabs = [tab(), tab(), tab()];
    for (const t of tabs) record(t);
    await until(() => tabs.every((t) => t.getState().status === 'connected'), 'connected');
    const seen: string[] = [];
    const leader = leaders(tabs)[0] as RealtimeClient;
    for (const t of tabs) if (t !== leader) t.on('statechange', (state) => seen.push(state.status));
    await leader.close();
    await until(() => backend.connectionCount === 1 && backend.connectCount === 2, 'a new connection');
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).not.toContain('closed');
    expect(seen).not.toContain('idle');
  });
});
