import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import { RealtimeError } from '../../src/errors';
import type { RealtimeOptions } from '../../src/options';
import type { RealtimeEvent } from '../../src/protocol/schemas';
import { createMemoryBackend, type MemoryBackend } from '../../src/testing/memory-backend';

// Timers go through the globals at call time so vi.useFakeTimers() drives them.
const fakeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

class FakeWindow extends EventTarget {}

interface Harness {
  rt: RealtimeClient;
  backend: MemoryBackend;
  win: FakeWindow;
  nav: { onLine: boolean };
}

const clients: RealtimeClient[] = [];

function setup(
  options: Partial<RealtimeOptions> = {},
  backend = createMemoryBackend({ heartbeatMs: 1000 }),
): Harness {
  const win = new FakeWindow();
  const nav = { onLine: true };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [backend.transport],
    backoff: { baseMs: 100, capMs: 1000 },
    devtools: false,
    ...options,
    platform: { clock: fakeClock, random: () => 0.5, window: win, navigator: nav, ...options.platform },
  });
  clients.push(rt);
  return { rt, backend, win, nav };
}

function record(rt: RealtimeClient, service: string): number[] {
  const seqs: number[] = [];
  rt.subscribe(service, (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.useRealTimers();
});

describe('createRealtime', () => {
  it('connects only when the first subscriber comes, then delivers events in order', async () => {
    const { rt, backend } = setup();
    await vi.advanceTimersByTimeAsync(50);
    expect(backend.connectCount).toBe(0);
    expect(rt.getState().status).toBe('idle');

    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    expect(rt.getState().transport).toBe('memory');
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(rt.getState().cursor).toEqual({ tasks: 5 });
    expect(rt.getState().byServiceDelivered).toEqual({ tasks: 5 });
  });

  it('delivers a replayed (overlapping) batch only once', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    const events = backend.publishBatch([{ service: 'tasks' }, { service: 'tasks' }, { service: 'tasks' }]);
    backend.sendRaw({ type: 'batch', events, after: { tasks: 0 }, cursor: { tasks: 3 } });
    expect(seqs).toEqual([1, 2, 3]);
    expect(rt.getState().byServiceSuppressed.tasks).toBe(3);
  });

  it('replays a gap from the cursor by reconnecting, losing nothing', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    const gaps: unknown[] = [];
    rt.on('gap', (g) => gaps.push(g));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    backend.loseNextBatches(2);
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    expect(gaps).toEqual([{ service: 'tasks', cursor: 1, after: 3 }]);
    expect(seqs).toEqual([1]);
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(2);
    expect(seqs).toEqual([1, 2, 3, 4]);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(rt.getState().counters.gaps).toBe(1);
  });

  it('turns a reset into a resync event and continues from its cursor', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    const resyncs: unknown[] = [];
    rt.on('resync', (r) => resyncs.push(r));
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    backend.skip('tasks', 10);
    backend.reset(['tasks'], 'buffer_expired');
    expect(resyncs).toEqual([{ services: ['tasks'], reason: 'buffer_expired' }]);
    expect(rt.getState().cursor.tasks).toBe(11);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 12]);
  });

  it('counts and drops frames that are not valid, and never throws them at the app', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    const garbage: Array<string | object> = [
      '{"type":"batch"',
      'not json',
      '{"type":"nope"}',
      '{"__proto__":{"polluted":true},"type":"heartbeat","serverTime":1}',
      JSON.stringify({ type: 'batch', events: [{ seq: 1e300 }], after: {}, cursor: {} }),
      new Uint8Array([1, 2, 3]),
    ];
    for (const frame of garbage) backend.sendRaw(frame);
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1]);
    expect(rt.getState().counters.invalidFrames).toBe(5);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps delivering to other handlers when one throws', async () => {
    const { rt, backend } = setup();
    const errors: unknown[] = [];
    rt.on('error', (e) => errors.push(e));
    rt.subscribe('tasks', () => {
      throw new Error('app bug');
    });
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    expect(rt.getState().counters.handlerErrors).toBe(2);
  });

  it('reconnects after a drop with backoff and replays what was published meanwhile', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    backend.drop();
    expect(rt.getState().status).toBe('reconnecting');
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    // random() = 0.5 → between floor 100 and ceiling 200: 150 ms.
    await vi.advanceTimersByTimeAsync(149);
    expect(backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
    expect(seqs).toEqual([1, 2, 3]);
    expect(rt.getState().byServiceReconnects).toEqual({ tasks: 1 });
  });

  it('opens the circuit after 3 failed attempts and closes it after a successful probe', async () => {
    const { rt, backend } = setup({
      circuit: { failureThreshold: 3, cooldownMs: 5000, maxCooldownMs: 60_000 },
    });
    backend.failNextConnects(3);
    const t0 = Date.now();
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().circuit).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    // With random() = 0.5 the backoff waits 150 ms, then 250 ms: the third failure is at t0 + 400.
    await vi.advanceTimersByTimeAsync(400);
    expect(backend.connectCount).toBe(3);
    expect(rt.getState().circuit).toMatchObject({
      state: 'open',
      consecutiveFailures: 3,
      openedAt: t0 + 400,
    });
    // No attempt while open, although the next backoff delay (450 ms) has long passed.
    await vi.advanceTimersByTimeAsync(4999);
    expect(backend.connectCount).toBe(3);
    expect(rt.getState().circuit.state).toBe('open');
    // Half-open after the 5 s cooldown: one probe, which succeeds and closes the circuit.
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.connectCount).toBe(4);
    expect(rt.getState().circuit).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(rt.getState().status).toBe('connected');
  });

  it('refreshes the token once on 401 and reconnects at once', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 1000 });
    let n = 0;
    const getToken = vi.fn(async () => `token_${++n}`);
    const { rt } = setup({ auth: { getToken } }, backend);
    backend.failNextConnects(1, new RealtimeError('unauthorized', 'expired', { status: 401 }));
    record(rt, 'tasks');
    // The token provider's code loads with the first connect (only apps with a getToken need it).
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
    expect(rt.getState().circuit.consecutiveFailures).toBe(0);
    expect(JSON.stringify(rt.getState())).not.toContain('token_');
  });

  it('stops for good on forbidden, with forbidden and fallback events', async () => {
    const { rt, backend } = setup();
    const events: string[] = [];
    rt.on('forbidden', (e) => events.push(`forbidden:${e.code}`));
    rt.on('fallback', (f) => events.push(`fallback:${f.reason}`));
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    backend.sendRaw({ type: 'error', code: 'forbidden', message: 'org deleted' });
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: 'forbidden' });
    expect(events).toEqual(['forbidden:forbidden', 'fallback:forbidden']);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(backend.connectCount).toBe(1);
  });

  it('honours retryAfterMs of an overloaded answer', async () => {
    const { rt, backend } = setup();
    backend.failNextConnects(1, new RealtimeError('overloaded', 'busy', { status: 429, retryAfterMs: 5000 }));
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(4999);
    expect(backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.connectCount).toBe(2);
  });

  it('declares a silent connection dead after two missed heartbeats and reconnects', async () => {
    const { rt, backend } = setup();
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.connectCount).toBe(1);
    backend.silence(true);
    await vi.advanceTimersByTimeAsync(2400);
    expect(backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(100 + 150);
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().lastError).toMatch(/^heartbeat_timeout/);
  });

  it('gives up an attempt that gets no welcome within connectTimeoutMs', async () => {
    const { rt, backend } = setup({ connectTimeoutMs: 3000 });
    backend.silence(true);
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(3000);
    expect(rt.getState().lastError).toMatch(/^connect_timeout/);
    backend.silence(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(rt.getState().status).toBe('connected');
    expect(backend.connectCount).toBe(2);
  });

  it('adds a service and changes the property filter in place, without reconnecting', async () => {
    const { rt, backend } = setup();
    const tasks: RealtimeEvent[] = [];
    rt.subscribe('tasks', (events) => tasks.push(...events));
    await vi.advanceTimersByTimeAsync(0);
    const finance = record(rt, 'finance');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'finance' });
    expect(finance).toEqual([1]);

    rt.setPropertyFilter('prop_1');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks', propertyId: 'prop_1' });
    backend.publish({ service: 'tasks', propertyId: 'prop_2' });
    backend.publish({ service: 'tasks' });
    expect(tasks.map((e) => [e.seq, e.propertyId])).toEqual([
      [1, 'prop_1'],
      [3, undefined],
    ]);
    expect(backend.connectCount).toBe(1);
    expect(rt.getState().services).toEqual(['finance', 'tasks']);
  });

  it('counts events its own property filter drops as suppressed', async () => {
    const { rt, backend } = setup();
    const seqs = record(rt, 'tasks');
    rt.setPropertyFilter('prop_1');
    await vi.advanceTimersByTimeAsync(0);
    // A batch the server did not filter (as a leader's union subscription would carry).
    const event = (seq: number, propertyId: string) => ({
      service: 'tasks',
      entityType: 'task',
      type: 'task.updated',
      eventId: `e${seq}`,
      seq,
      ts: 1,
      orgId: 'org_test',
      propertyId,
    });
    backend.sendRaw({
      type: 'batch',
      events: [event(1, 'prop_1'), event(2, 'prop_2'), event(3, 'prop_2')],
      after: { tasks: 0 },
      cursor: { tasks: 3 },
    });
    expect(seqs).toEqual([1]);
    expect(rt.getState().byServiceSuppressed.tasks).toBe(2);
    expect(rt.getState().byServiceDelivered.tasks).toBe(1);
  });

  it('keeps the connection through an unsubscribe+subscribe within the grace delay, closes after it', async () => {
    const { rt, backend } = setup({ idleGraceMs: 1000 });
    const off = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(0);
    off();
    const off2 = rt.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(5000);
    expect(backend.connectCount).toBe(1);
    expect(backend.connectionCount).toBe(1);
    off2();
    await vi.advanceTimersByTimeAsync(999);
    expect(backend.connectionCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.connectionCount).toBe(0);
    expect(rt.getState().status).toBe('idle');
  });

  it('waits while offline and reconnects at once on `online`', async () => {
    const { rt, backend, win, nav } = setup();
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    nav.onLine = false;
    backend.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.connectCount).toBe(1);
    nav.onLine = true;
    win.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });

  it('in a worker (no window) hears `online` at the global scope', async () => {
    // A worker's global scope is the EventTarget `online` fires at.
    const scope = new EventTarget();
    vi.stubGlobal('addEventListener', scope.addEventListener.bind(scope));
    vi.stubGlobal('removeEventListener', scope.removeEventListener.bind(scope));
    try {
      const { rt, backend, nav } = setup({ platform: { window: undefined } });
      record(rt, 'tasks');
      await vi.advanceTimersByTimeAsync(0);
      nav.onLine = false;
      backend.drop();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(backend.connectCount).toBe(1);
      nav.onLine = true;
      scope.dispatchEvent(new Event('online'));
      await vi.advanceTimersByTimeAsync(0);
      expect(backend.connectCount).toBe(2);
      expect(rt.getState().status).toBe('connected');
      await rt.close();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("waits out the server's retryAfterMs when a hidden tab becomes visible or goes back online", async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const { rt, backend, win } = setup({ platform: { document: doc } });
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    // The server asked for a long wait before the next attempt (PROTOCOL.md: back off at least that long).
    backend.sendRaw({ type: 'error', code: 'overloaded', message: 'busy', retryAfterMs: 60_000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(backend.connectCount).toBe(1);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    win.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(1);
    await vi.advanceTimersByTimeAsync(58_000);
    expect(backend.connectCount).toBe(1);
    // The retry armed for the end of the wait runs, once.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });

  it('reconnects at once when a hidden tab becomes visible during a plain backoff', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const { rt, backend } = setup({
      platform: { document: doc },
      backoff: { baseMs: 20_000, capMs: 60_000 },
    });
    backend.failNextConnects(1);
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(1000);
    // The failed attempt waits its backoff (over 1 s here)...
    expect(backend.connectCount).toBe(1);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await vi.advanceTimersByTimeAsync(0);
    // ...which a tab shown again does not wait out: no server asked for it.
    expect(backend.connectCount).toBe(2);
    expect(rt.getState().status).toBe('connected');
  });

  it('leaves a healthy connection alone when the tab becomes visible', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const { rt, backend } = setup({ platform: { document: doc } });
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(1);
  });

  it('closes on freeze and reconnects from its cursor on resume', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const { rt, backend } = setup({ platform: { document: doc } });
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    // A frozen page runs nothing: it holds no socket meanwhile.
    doc.dispatchEvent(new Event('freeze'));
    expect(backend.connectionCount).toBe(0);
    backend.publish({ service: 'tasks' });
    vi.setSystemTime(Date.now() + 10_000);
    doc.dispatchEvent(new Event('resume'));
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(2);
    expect(seqs).toEqual([1, 2]);
  });

  it('closes in the back/forward cache and reconnects from its cursor on pageshow', async () => {
    const { rt, backend, win } = setup();
    const seqs = record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks' });
    const hide = Object.assign(new Event('pagehide'), { persisted: true });
    win.dispatchEvent(hide);
    expect(backend.connectionCount).toBe(0);
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(backend.connectCount).toBe(1);
    win.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.connectCount).toBe(2);
    expect(seqs).toEqual([1, 2]);
  });

  it('turns itself off with a kill switch and back on when it is lifted', async () => {
    const { rt, backend } = setup();
    const fallbacks: string[] = [];
    rt.on('fallback', (f) => fallbacks.push(f.reason));
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    rt.setFlags({ emergencyDisable: true });
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(backend.connectionCount).toBe(0);
    expect(fallbacks).toEqual(['emergency_disable']);
    rt.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
  });

  it('refuses a misspelled kill switch in setFlags, and changes nothing', async () => {
    const { rt } = setup();
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    const before = rt.getState();
    expect(() => rt.setFlags({ emergencyDisabled: true } as never)).toThrow(
      /^flags\.emergencyDisabled is not a flag \(did you mean emergencyDisable\?\); known: enabled, emergencyDisable/,
    );
    expect(rt.getState()).toBe(before);
    expect(rt.getState().status).toBe('connected');
  });

  it('validates options loudly, naming the field and the value', () => {
    const base = { url: 'http://127.0.0.1:1/x' };
    expect(() => createRealtime({ ...base, circuit: { failureThreshold: 0 } })).toThrow(
      /circuit\.failureThreshold.*0/,
    );
    expect(() => createRealtime({ url: 'ftp://x' })).toThrow(RangeError);
    expect(() => createRealtime({ ...base, leader: { strategy: 'magic' as never } })).toThrow(
      /leader\.strategy/,
    );
    expect(() => createRealtime({ ...base, flags: { rolloutPercent: 101 } })).toThrow(
      /flags\.rolloutPercent.*101/,
    );
    expect(() => createRealtime({ ...base, transports: ['carrier-pigeon' as never] })).toThrow(
      /transports\[0\]/,
    );
    const rt = createRealtime({ ...base, devtools: false });
    clients.push(rt);
    expect(() => rt.subscribe('__proto__', () => {})).toThrow(RangeError);
    expect(() => rt.setPropertyFilter('' as never)).toThrow(RangeError);
    expect(() => rt.setPropertyFilter('p1,p2')).toThrow(
      'propertyId must be a non-empty string, no commas or lone surrogates, or null, got "p1,p2"',
    );
  });

  it('returns the same state object until something changes', async () => {
    const { rt, backend } = setup();
    record(rt, 'tasks');
    await vi.advanceTimersByTimeAsync(0);
    const a = rt.getState();
    expect(rt.getState()).toBe(a);
    backend.publish({ service: 'tasks' });
    expect(rt.getState()).not.toBe(a);
  });
});

describe('on / off', () => {
  it('calls listeners in order, twice for one added twice; off removes every registration', () => {
    const { rt } = setup({ leader: { strategy: 'none' } });
    const calls: string[] = [];
    const a = () => calls.push('a');
    const offB = rt.on('fallback', () => calls.push('b'));
    rt.on('fallback', a);
    rt.on('fallback', a);
    rt.setFlags({ emergencyDisable: true });
    expect(calls).toEqual(['b', 'a', 'a']);
    calls.length = 0;
    rt.off('fallback', a);
    rt.setFlags({ emergencyDisable: false });
    rt.setFlags({ emergencyDisable: true });
    expect(calls).toEqual(['b']);
    offB();
    offB(); // harmless twice
    rt.setFlags({ emergencyDisable: false });
    rt.setFlags({ emergencyDisable: true });
    expect(calls).toEqual(['b']);
  });

  it('runs a listener added during an emit from the next emit on, and skips none removed late', () => {
    const { rt } = setup({ leader: { strategy: 'none' } });
    const calls: string[] = [];
    const late = () => calls.push('late');
    rt.on('fallback', () => {
      calls.push('first');
      rt.on('fallback', late);
    });
    rt.setFlags({ emergencyDisable: true });
    expect(calls).toEqual(['first']);
    calls.length = 0;
    rt.setFlags({ emergencyDisable: false });
    rt.setFlags({ emergencyDisable: true });
    expect(calls).toEqual(['first', 'late']);
  });

  it('refuses a listener that is not a function', () => {
    const { rt } = setup();
    expect(() => rt.on('statechange', 'nope' as never)).toThrow(
      new TypeError('listener must be a function, got "nope"'),
    );
  });
});
