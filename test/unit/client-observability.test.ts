import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Clock } from '../../src/clock';
import { type SliReport, sliReportSchema } from '../../src/observability/telemetry-payload';
import type { RealtimeOptions } from '../../src/options';
import { createFakeBrowser } from '../../src/testing/fake-browser';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// Safety and observability as the client wires them: optimistic mutations,
// SLIs with a skewed clock, shadow mode, the rollback guard, sampled reports.

const fakeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const clients: RealtimeClient[] = [];

/** A full, synchronous garbage collection (V8's `gc`, exposed for this). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function setup(
  options: Partial<RealtimeOptions> = {},
  backend = createMemoryBackend({ heartbeatMs: 60_000 }),
) {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_obs', userId: 'u_1' },
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    ...options,
    // Every tab here measures SLIs, sampled or not (the default measures only sampled ones).
    telemetry: { measure: 'always', ...options.telemetry },
    platform: { clock: fakeClock, random: () => 0.5, ...options.platform },
  });
  clients.push(rt);
  return { rt, backend };
}

function record(rt: RealtimeClient, service = 'tasks'): number[] {
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

describe('trackMutation', () => {
  it('settles visible when the echo is dispatched, with its latency', async () => {
    const { rt, backend } = setup();
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    const m = rt.trackMutation('m_1', { timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(120);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await expect(m.result).resolves.toEqual({ status: 'visible', latencyMs: 120 });
  });

  it('times out so the app rolls back, and feeds the timeout rate', async () => {
    const { rt, backend } = setup();
    record(rt);
    await vi.dynamicImportSettled(); // the SLI collector
    await vi.advanceTimersByTimeAsync(0);
    const late = rt.trackMutation('m_late', { timeoutMs: 1000 });
    const ok = rt.trackMutation('m_ok', { timeoutMs: 1000 });
    backend.publish({ service: 'tasks', mutationId: 'm_ok' });
    await vi.advanceTimersByTimeAsync(1000);
    await expect(late.result).resolves.toEqual({ status: 'timed_out', afterMs: 1000 });
    await expect(ok.result).resolves.toMatchObject({ status: 'visible' });
    // The echo after the timeout never settles it a second time.
    backend.publish({ service: 'tasks', mutationId: 'm_late' });
    expect(late.status()).toBe('timed_out');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().sli.optimisticTimeoutRate).toBe(0.5);
  });

  it('validates synchronously, with the same errors as before, and returns a pending handle at once', () => {
    const { rt } = setup();
    expect(() => rt.trackMutation('has space')).toThrow(
      new RangeError('mutationId must be a string of 1..200 visible ASCII [!-~], got "has space"'),
    );
    expect(() => rt.trackMutation(42 as unknown as string)).toThrow(RangeError);
    expect(() => rt.trackMutation('m_1', { timeoutMs: 0 })).toThrow(
      new RangeError('timeoutMs must be an integer ≥ 1 and ≤ 2147483647, got 0'),
    );
    expect(() => rt.trackMutation('m_1', 'x' as unknown as { timeoutMs: number })).toThrow(RangeError);
    const m = rt.trackMutation('m_1');
    expect(m.id).toBe('m_1');
    expect(m.status()).toBe('pending');
    expect(Object.keys(m).sort()).toEqual(['cancel', 'id', 'result', 'status', 'timedOut', 'visible']);
  });

  it('times out after optimistic.timeoutMs from the call; an echo in time resolves only `visible`', async () => {
    const { rt, backend } = setup({ optimistic: { timeoutMs: 300 } });
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    const late = rt.trackMutation('m_late');
    const ok = rt.trackMutation('m_ok');
    const seen: string[] = [];
    void ok.visible.then(({ latencyMs }) => seen.push(`visible ${latencyMs}`));
    void ok.timedOut.then(() => seen.push('timedOut'));
    void late.visible.then(() => seen.push('late visible'));
    void late.timedOut.then(() => seen.push('late timedOut'));
    await vi.advanceTimersByTimeAsync(299);
    backend.publish({ service: 'tasks', mutationId: 'm_ok' });
    expect(late.status()).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(late.status()).toBe('timed_out');
    await expect(late.result).resolves.toEqual({ status: 'timed_out', afterMs: 300 });
    await expect(ok.result).resolves.toEqual({ status: 'visible', latencyMs: 299 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seen).toEqual(['visible 299', 'late timedOut']);
  });

  it('returns the same handle for a pending id, keeping its first timeout; a settled id starts afresh', async () => {
    const { rt } = setup();
    const first = rt.trackMutation('m_1', { timeoutMs: 100 });
    await vi.advanceTimersByTimeAsync(50);
    expect(rt.trackMutation('m_1', { timeoutMs: 5000 })).toBe(first);
    await vi.advanceTimersByTimeAsync(50);
    expect(first.status()).toBe('timed_out');
    const second = rt.trackMutation('m_1');
    expect(second).not.toBe(first);
    expect(second.status()).toBe('pending');
  });

  it('honours cancel(): settles cancelled once, and a later echo changes nothing', async () => {
    const { rt, backend } = setup();
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    const m = rt.trackMutation('m_1');
    m.cancel();
    m.cancel();
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(m.status()).toBe('cancelled');
    await expect(m.result).resolves.toEqual({ status: 'cancelled', reason: 'cancelled' });
  });

  it('keeps at most optimistic.maxPending pending, cancelling the oldest', async () => {
    const { rt } = setup({ optimistic: { maxPending: 2 } });
    const [a, b, c] = ['m_a', 'm_b', 'm_c'].map((id) => rt.trackMutation(id));
    expect(a?.status()).toBe('cancelled');
    await expect(a?.result).resolves.toEqual({ status: 'cancelled', reason: 'evicted' });
    expect([b?.status(), c?.status()]).toEqual(['pending', 'pending']);
  });

  it('close() settles every pending mutation cancelled (disposed); trackMutation then throws', async () => {
    const { rt } = setup();
    const m = rt.trackMutation('m_1');
    await rt.close();
    expect(m.status()).toBe('cancelled');
    await expect(m.result).resolves.toEqual({ status: 'cancelled', reason: 'disposed' });
    expect(() => rt.trackMutation('m_2')).toThrow(new TypeError('this realtime client is closed'));
  });

  it('feeds the mutation-to-visible latency SLI', async () => {
    const { rt, backend } = setup();
    record(rt);
    await vi.dynamicImportSettled(); // the SLI collector
    await vi.advanceTimersByTimeAsync(0);
    const m = rt.trackMutation('m_1');
    await vi.advanceTimersByTimeAsync(80);
    backend.publish({ service: 'tasks', mutationId: 'm_1' });
    await expect(m.result).resolves.toEqual({ status: 'visible', latencyMs: 80 });
    await vi.advanceTimersByTimeAsync(10_000);
    const { mutationToVisibleP95Ms, optimisticTimeoutRate } = rt.getState().sli;
    expect(mutationToVisibleP95Ms).toBeGreaterThan(75);
    expect(mutationToVisibleP95Ms).toBeLessThan(85);
    expect(optimisticTimeoutRate).toBe(0);
  });
});

describe('SLIs', () => {
  it('measures delivery latency right although the client clock is 5 minutes ahead', async () => {
    const serverNow = () => Date.now();
    const backend = createMemoryBackend({ heartbeatMs: 60_000, now: serverNow });
    const { rt } = setup({ platform: { wallClock: () => Date.now() + 300_000 } }, backend);
    record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 20; i++) {
      // Each event happened 40 ms before it is delivered, by the server's clock.
      backend.publish({ service: 'tasks', ts: serverNow() - 40 });
    }
    await vi.advanceTimersByTimeAsync(10_000);
    const { sli, byServiceP95LatencyMs } = rt.getState();
    expect(sli.deliveryP50Ms).toBeGreaterThan(38);
    expect(sli.deliveryP50Ms).toBeLessThan(42);
    expect(byServiceP95LatencyMs.tasks).toBeGreaterThanOrEqual(39);
    expect(byServiceP95LatencyMs.tasks).toBeLessThanOrEqual(41);
  });

  it('evaluates the SLOs into the state and sends an sli event every 10 s', async () => {
    const { rt, backend } = setup();
    const reports: SliReport[] = [];
    rt.on('sli', (r) => reports.push(r));
    record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    backend.publish({ service: 'tasks', ts: Date.now() - 3000 });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(reports).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(reports).toHaveLength(1);
    expect(sliReportSchema.safeParse(reports[0]).success).toBe(true);
    const { slo } = rt.getState();
    expect(slo.deliveryP99Ms).toMatchObject({ target: 2000, ok: false });
    expect(slo.deliveryP50Ms?.ok).toBe(false);
    expect(slo.takeoverP95Ms).toEqual({ value: undefined, target: 500, ok: undefined });
  });

  it('reports an orgId the ingest would refuse (over 200 characters) without it', async () => {
    const reports: SliReport[] = [];
    for (const orgId of ['o'.repeat(200), 'o'.repeat(201)]) {
      const { rt } = setup({ scope: { orgId } });
      rt.on('sli', (r) => reports.push(r));
      record(rt);
    }
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports.map((r) => r.orgId?.length)).toEqual([200, undefined]);
    for (const report of reports) expect(sliReportSchema.safeParse(report).success).toBe(true);
  });

  it('keeps measuring in shadow mode while no handler is called', async () => {
    const { rt, backend } = setup({ flags: { shadowMode: true } });
    const seqs = record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 5; i++) backend.publish({ service: 'tasks', ts: Date.now() - 10 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seqs).toEqual([]);
    expect(rt.getState().sli.deliveryP50Ms).toBeTypeOf('number');
    expect(rt.getState().cursor.tasks).toBe(5);
  });
});

describe('which tabs measure SLIs', () => {
  // The default: only sampled sessions, or a tab where something listens to `sli`.
  const unsampled = { sampleRate: 0, measure: 'sampled' } as const;

  it('an unsampled tab nobody asks for figures never loads the collector', async () => {
    const loads = vi.fn();
    vi.doMock('../../src/observability/sli-measurement', async (importOriginal) => {
      loads();
      return importOriginal();
    });
    try {
      const { rt, backend } = setup({ telemetry: unsampled });
      const seqs = record(rt);
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'tasks', ts: Date.now() - 40 });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(seqs).toEqual([1]);
      expect(loads).not.toHaveBeenCalled();
      const { sli, slo, alerts, byServiceP95LatencyMs, byServiceDelivered } = rt.getState();
      expect(sli).toMatchObject({ sampled: false, measured: false });
      expect(sli.deliveryP50Ms).toBeUndefined();
      expect([slo, alerts, byServiceP95LatencyMs]).toEqual([{}, [], {}]);
      // What does not need the collector is still counted.
      expect(byServiceDelivered).toEqual({ tasks: 1 });
    } finally {
      vi.doUnmock('../../src/observability/sli-measurement');
    }
  });

  it('the first sli listener turns measuring on in an unsampled tab', async () => {
    const { rt, backend } = setup({ telemetry: unsampled });
    record(rt);
    expect(rt.getState().sli.measured).toBe(false);
    const reports: SliReport[] = [];
    rt.on('sli', (r) => reports.push(r));
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().sli.measured).toBe(true);
    backend.publish({ service: 'tasks', ts: Date.now() - 40 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.byService.tasks).toMatchObject({ delivered: 1, p95LatencyMs: 40 });
    expect(rt.getState().sli.deliveryP50Ms).toBeCloseTo(40, -1);
  });

  it('measures what happened while the collector was loading', async () => {
    const { rt, backend } = setup({ telemetry: unsampled });
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    const m = rt.trackMutation('m_early', { timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(25);
    // Measuring starts here; its import() cannot settle before the next await,
    // and the memory backend delivers synchronously, so all of this comes first.
    rt.on('sli', () => {});
    for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks', ts: Date.now() - 40 });
    backend.publish({ service: 'tasks', mutationId: 'm_early' });
    expect(rt.getState().byServiceDelivered.tasks).toBe(4);
    expect(rt.getState().sli.measured).toBe(false);
    await expect(m.result).resolves.toEqual({ status: 'visible', latencyMs: 25 });
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(10_000);
    const { sli } = rt.getState();
    expect(sli.measured).toBe(true);
    expect(sli.deliveryP50Ms).toBeCloseTo(40, -1);
    expect(sli.mutationToVisibleP95Ms).toBeCloseTo(25, -1);
  });

  it('a sampled tab measures without being asked', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const { rt } = setup({
      telemetry: { sampleRate: 1, measure: 'sampled' },
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    await vi.dynamicImportSettled();
    expect(rt.getState().sli).toMatchObject({ sampled: true, measured: true });
  });

  it('counts elections per hour in every tab, measured or not', async () => {
    const browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    try {
      const [first, second] = [browser.tab(), browser.tab()];
      record(first);
      record(second);
      await vi.advanceTimersByTimeAsync(100);
      const leader = browser.leaders()[0] as RealtimeClient;
      const other = leader === first ? second : first;
      await leader.close(); // the other tab takes over: its first election won
      await vi.advanceTimersByTimeAsync(10_000);
      expect(other.getState()).toMatchObject({
        isLeader: true,
        leader: { electionsPerHour: 1 },
        sli: { measured: false },
      });
    } finally {
      await browser.close();
    }
  });

  it('changes nothing at the tick of a tab that does not measure, when nothing happened', async () => {
    const { rt } = setup({ telemetry: unsampled });
    record(rt);
    await vi.advanceTimersByTimeAsync(10_000); // connected, first tick passed
    const changes = vi.fn();
    rt.on('statechange', changes);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(changes).not.toHaveBeenCalled();
  });

  // The collector (and with it the reporter) or only the reporter: a chunk
  // gone after a deploy. Realtime runs on; nothing is reported; it is counted.
  it.each([
    ['the collector', '../../src/observability/sli-measurement', false],
    ['the reporter', '../../src/observability/sli-reporter', true],
  ] as const)('runs on, and says so, when %s cannot load', async (_, path, measured) => {
    vi.doMock(path, () => {
      throw new Error('chunk 404 after a deploy');
    });
    try {
      const errors: unknown[] = [];
      const fetch = vi.fn(async () => new Response(null, { status: 204 }));
      const { rt, backend } = setup({
        telemetry: { sampleRate: 1, intervalMs: 5000 },
        platform: { fetch: fetch as typeof globalThis.fetch },
      });
      rt.on('error', (error) => errors.push(error));
      const seqs = record(rt);
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(seqs).toEqual([1]);
      expect(fetch).not.toHaveBeenCalled();
      expect(rt.getState().sli).toMatchObject({ sampled: true, measured });
      expect(rt.getState().counters.lazyLoadFailures).toBe(1);
      expect(errors).toMatchObject([{ code: 'load_failed' }]);
    } finally {
      vi.doUnmock(path);
    }
  });

  it('keeps no batch for a collector that failed to load, also after a later sli listener', async () => {
    vi.doMock('../../src/observability/sli-measurement', () => {
      throw new Error('chunk 404 after a deploy');
    });
    try {
      const { rt, backend } = setup();
      let last: WeakRef<object> | undefined;
      rt.subscribe('tasks', (events) => {
        last = new WeakRef(events);
      });
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(0);
      expect(rt.getState().counters.lazyLoadFailures).toBe(1);
      // Asks for measuring again: nothing is loading, so nothing may be kept for it.
      rt.on('sli', () => {});
      await vi.dynamicImportSettled();
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(0);
      expect(last?.deref()).toBeDefined();
      // A WeakRef's target survives the job that made it: collect after a turn.
      await vi.advanceTimersByTimeAsync(1);
      collectGarbage();
      expect(last?.deref()).toBeUndefined();
    } finally {
      vi.doUnmock('../../src/observability/sli-measurement');
    }
  });

  it('refuses an unknown telemetry.measure', () => {
    expect(() => setup({ telemetry: { measure: 'never' as 'always' } })).toThrow(
      new RangeError('telemetry.measure must be one of "sampled", "always", got "never"'),
    );
  });
});

describe('auto-rollback', () => {
  it('turns realtime off when more than 5 % of frames are invalid, with fallback', async () => {
    const { rt, backend } = setup();
    const fallbacks: string[] = [];
    const degraded: number[] = [];
    rt.on('fallback', (f) => fallbacks.push(f.reason));
    rt.on('degraded', (d) => degraded.push(d.errorRate));
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 40; i++) backend.publish({ service: 'tasks' });
    backend.sendRaw('garbage');
    expect(rt.getState().rollback.state).toBe('degraded');
    expect(degraded).toHaveLength(1);
    backend.sendRaw('garbage');
    backend.sendRaw('garbage');
    expect(rt.getState()).toMatchObject({
      status: 'disabled',
      disabledReason: 'auto_rollback',
      rollback: { state: 'tripped', reason: 'error_rate' },
    });
    expect(fallbacks).toEqual(['auto_rollback']);
    expect(backend.connectionCount).toBe(0);
  });

  // Failed connects counted too, once: then a restart's second failed
  // reconnect tripped a quiet tab whose heartbeats filled the window.
  it('counts neither live connections that dropped nor failed attempts as errors, only invalid frames (as the docs define the rate)', async () => {
    const { rt, backend } = setup({ rollback: { minSamples: 1 }, backoff: { baseMs: 10, capMs: 20 } });
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    // Two drops of a welcomed connection, each followed by a welcomed reconnect.
    for (let i = 0; i < 2; i++) {
      backend.drop();
      await vi.advanceTimersByTimeAsync(100);
      expect(rt.getState().status).toBe('connected');
    }
    expect(rt.getState()).toMatchObject({
      rollback: { state: 'ok' },
      counters: { reconnects: 2, failedConnects: 0 },
    });
    // Attempts that get no welcome are failed connects, no errors of the rate.
    backend.drop();
    backend.failNextConnects(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rt.getState()).toMatchObject({
      status: 'connected',
      rollback: { state: 'ok' },
      counters: { reconnects: 3, failedConnects: 2 },
    });
    // One invalid frame of five (the four welcomes) is above 5 %.
    backend.sendRaw('garbage');
    expect(rt.getState()).toMatchObject({
      status: 'disabled',
      rollback: { state: 'tripped', reason: 'error_rate', detail: 'error rate 20.0 %' },
    });
  });

  // The trip usually comes as the open period ends (the circuit going
  // half-open), before any failure; here the probe's own failure, a connect
  // timeout, is what takes the open time past circuitOpenMs.
  it('the failed probe that trips circuit_open promises no retry in its disconnected', async () => {
    const { rt, backend } = setup({
      connectTimeoutMs: 800,
      backoff: { baseMs: 10, capMs: 20 },
      circuit: { failureThreshold: 1, cooldownMs: 500, maxCooldownMs: 500 },
      rollback: { circuitOpenMs: 1000 },
    });
    const seen: Array<{ code: string; willRetryInMs: number | undefined; tripped: boolean }> = [];
    rt.on('disconnected', ({ error, willRetryInMs }) =>
      seen.push({ code: error.code, willRetryInMs, tripped: rt.getState().rollback.state === 'tripped' }),
    );
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    backend.silence(true);
    backend.drop();
    // Open at the first timeout (~810 ms), half-open 500 ms later (open
    // 500 ms: no trip), the probe times out 800 ms after that: open 1300 ms.
    await vi.advanceTimersByTimeAsync(3_000);
    expect(rt.getState()).toMatchObject({
      status: 'disabled',
      rollback: { state: 'tripped', reason: 'circuit_open' },
    });
    expect(seen.map((d) => d.code)).toEqual(['connection_lost', 'connect_timeout', 'connect_timeout']);
    expect(seen.at(-1)).toEqual({ code: 'connect_timeout', willRetryInMs: undefined, tripped: true });
    expect(seen.slice(0, -1).every((d) => typeof d.willRetryInMs === 'number' && !d.tripped)).toBe(true);
  });

  it('comes back after the configured cooldown', async () => {
    const { rt, backend } = setup({ rollback: { cooldownMs: 60_000, minSamples: 1 } });
    record(rt);
    await vi.advanceTimersByTimeAsync(0);
    backend.sendRaw('garbage');
    expect(rt.getState().status).toBe('disabled');
    await vi.advanceTimersByTimeAsync(60_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rt.getState().status).toBe('connected');
    expect(rt.getState().rollback.state).toBe('ok');
  });
});

describe('sampled telemetry', () => {
  it('posts a valid report every intervalMs from a sampled session, none from an unsampled one', async () => {
    const bodies: string[] = [];
    const fetch = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      bodies.push(String(init?.body));
      return new Response(null, { status: 204 });
    });
    const sampled = setup({
      telemetry: { sampleRate: 1, intervalMs: 5000, url: 'http://127.0.0.1:1/telemetry/client' },
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    record(sampled.rt);
    const unsampled = setup(
      {
        telemetry: { sampleRate: 0, intervalMs: 5000 },
        platform: { fetch: fetch as typeof globalThis.fetch },
      },
      sampled.backend,
    );
    record(unsampled.rt);
    await vi.dynamicImportSettled(); // the reporter's code is loaded on demand
    await vi.advanceTimersByTimeAsync(0);
    sampled.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(String(fetch.mock.calls[0]?.[0])).toBe('http://127.0.0.1:1/telemetry/client');
    expect(fetch.mock.calls[0]?.[1]).toMatchObject({ method: 'POST', keepalive: true });
    const report = sliReportSchema.parse(JSON.parse(bodies[0] ?? ''));
    expect(report.tabId).toBe(sampled.rt.getState().tabId);
    expect(report.byService.tasks?.delivered).toBe(1);
    expect(sampled.rt.getState().sli.sampled).toBe(true);
    expect(unsampled.rt.getState().sli.sampled).toBe(false);
  });

  it('sends the last report by fetch on close(), not by beacon, since the page lives on', async () => {
    const sendBeacon = vi.fn(() => true);
    vi.stubGlobal('navigator', { sendBeacon });
    try {
      const fetch = vi.fn(async () => new Response(null, { status: 204 }));
      const { rt } = setup({
        telemetry: { sampleRate: 1, intervalMs: 60_000, url: 'http://127.0.0.1:1/telemetry/client' },
        platform: { fetch: fetch as typeof globalThis.fetch },
      });
      await vi.dynamicImportSettled();
      await rt.close();
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(sendBeacon).not.toHaveBeenCalled();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('sends the last report on close() even right after an interval report (no lifecycle throttle)', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const { rt } = setup({
      telemetry: { sampleRate: 1, intervalMs: 60_000, url: 'http://127.0.0.1:1/telemetry/client' },
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(1);
    await rt.close();
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('creates no reporter when closed before its code arrived', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const { rt } = setup({
      telemetry: { sampleRate: 1, intervalMs: 5000 },
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    record(rt);
    await rt.close();
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('never puts a token in the state or the report', async () => {
    const reports: SliReport[] = [];
    const { rt } = setup({ auth: { getToken: () => 'secret-token-123' } });
    rt.on('sli', (r) => reports.push(r));
    record(rt);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(JSON.stringify(rt.getState())).not.toContain('secret-token-123');
    expect(JSON.stringify(reports)).not.toContain('secret-token-123');
    expect(reports).toHaveLength(1);
  });
});

describe('optional parts that load on demand', () => {
  it('still check their options when the client is created', () => {
    expect(() => setup({ flagsUrl: { url: '/flags', intervalMs: 2 ** 31 } })).toThrow(/flagsUrl\.intervalMs/);
    expect(() => setup({ telemetry: { intervalMs: 2 ** 31 } })).toThrow(/telemetry\.intervalMs/);
    expect(() => setup({ flagsUrl: 'http://exa mple.com/flags' })).toThrow(
      new RangeError('flagsUrl.url must be a URL, absolute or relative, got "http://exa mple.com/flags"'),
    );
    expect(() => setup({ telemetry: { sampleRate: 1, url: 'http://[bad' } })).toThrow(/telemetry\.url/);
  });

  it('count a part that loaded but could not be created, and run on without it', async () => {
    vi.doMock('../../src/flags/flags-poller', () => ({
      FlagsPoller: class {
        constructor() {
          throw new Error('broken build');
        }
      },
    }));
    try {
      const errors: unknown[] = [];
      const { rt, backend } = setup({ flagsUrl: '/flags' });
      rt.on('error', (error) => errors.push(error));
      const seqs = record(rt);
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(0);
      expect(seqs).toEqual([1]);
      expect(rt.getState().counters.lazyLoadFailures).toBe(1);
      expect(errors).toMatchObject([{ code: 'load_failed', cause: { message: 'broken build' } }]);
    } finally {
      vi.doUnmock('../../src/flags/flags-poller');
    }
  });
});

describe('app listeners that throw', () => {
  it('neither stop the other listeners nor the stream', async () => {
    const reported: unknown[] = [];
    vi.stubGlobal('reportError', (error: unknown) => reported.push(error));
    try {
      const { rt, backend } = setup();
      const seen: string[] = [];
      rt.on('statechange', () => {
        throw new Error('statechange listener broke');
      });
      rt.on('statechange', (state) => seen.push(state.status));
      rt.subscribeState(() => {
        throw new Error('state listener broke');
      });
      const seqs = record(rt);
      await vi.advanceTimersByTimeAsync(0);
      backend.publish({ service: 'tasks' });
      backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(0);
      expect(seqs).toEqual([1, 2]);
      expect(seen).toContain('connected');
      expect(rt.getState().status).toBe('connected');
      expect(reported.length).toBeGreaterThan(0);
      expect(reported).toContainEqual(new Error('statechange listener broke'));
      expect(reported).toContainEqual(new Error('state listener broke'));
      await rt.close(); // its last state change would otherwise throw after the stub is gone
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
