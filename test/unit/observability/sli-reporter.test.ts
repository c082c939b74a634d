import { describe, expect, it } from 'vitest';
import {
  FLUSH_GAP_MS,
  type SendBeacon,
  SliReporter,
  type SliReporterOptions,
  type TelemetryFetch,
  type TelemetryResponseLike,
} from '../../../src/observability/sli-reporter';
import { utf8Length } from '../../../src/observability/telemetry-encode';
import type { SliReport } from '../../../src/observability/telemetry-payload';
import { sliReport } from '../../fixtures/sli-report';
import { FakeClock, flushPromises } from '../connection/fake-clock';

const URL = 'https://app.example/telemetry/client';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function report(byService: SliReport['byService'] = { tasks: { delivered: 3, suppressed: 0 } }): SliReport {
  return sliReport({ sentAt: 1, byService });
}

function response(status: number, headers: Record<string, string> = {}): TelemetryResponseLike {
  return { status, headers: { get: (name) => headers[name.toLowerCase()] ?? null }, body: null };
}

interface Call {
  url: string;
  init: Parameters<TelemetryFetch>[1];
  at: number;
}

function fakeFetch(clock: FakeClock, answer: (n: number) => Promise<TelemetryResponseLike>) {
  const calls: Call[] = [];
  const fetch: TelemetryFetch = (url, init) => {
    calls.push({ url, init, at: clock.now() });
    return answer(calls.length);
  };
  return { fetch, calls };
}

function fakeBeacon(result = true) {
  const beacons: Array<{ url: string; data: Blob }> = [];
  const sendBeacon: SendBeacon = (url, data) => {
    beacons.push({ url, data });
    return result;
  };
  return { sendBeacon, beacons };
}

function page() {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const hide = () => {
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
  };
  const show = () => {
    document.visibilityState = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
  };
  return { window, document, hide, show };
}

// Moves fake time in steps, letting fetch promises settle in between.
async function run(clock: FakeClock, ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flushPromises();
  }
}

function setup(overrides: Partial<SliReporterOptions> = {}, answer = async () => response(204)) {
  const clock = new FakeClock();
  const { fetch, calls } = fakeFetch(clock, answer);
  const { sendBeacon, beacons } = fakeBeacon();
  const { window, document, hide, show } = page();
  const reporter = new SliReporter({
    url: URL,
    sampled: true,
    collect: () => report(),
    fetch,
    sendBeacon,
    clock,
    wallClock: clock.wall,
    random: () => 0.5,
    window,
    document,
    ...overrides,
  });
  return { clock, calls, beacons, reporter, window, document, hide, show };
}

describe('SliReporter', () => {
  it('POSTs the encoded report every intervalMs with keepalive', async () => {
    const { clock, calls, reporter } = setup();
    reporter.start();
    await run(clock, MINUTE - 1000);
    expect(calls).toHaveLength(0);
    await run(clock, 1000);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe(URL);
    expect(call?.init.method).toBe('POST');
    expect(call?.init.keepalive).toBe(true);
    expect(call?.init.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(call?.init.body ?? '')).toEqual(report());
    await run(clock, 2 * MINUTE);
    expect(calls.map((c) => c.at)).toEqual([MINUTE, 2 * MINUTE, 3 * MINUTE]);
    expect(reporter.stats()).toMatchObject({ sent: 3, failed: 0, skipped: 0, lastStatus: 204 });
  });

  it('uses the configured interval', async () => {
    const { clock, calls, reporter } = setup({ intervalMs: 5000 });
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(12);
  });

  it('does nothing at all when not sampled', async () => {
    const { clock, calls, beacons, reporter, window, hide } = setup({ sampled: false });
    reporter.start();
    expect(clock.pending).toBe(0);
    await run(clock, HOUR, 10_000);
    hide();
    window.dispatchEvent(new Event('pagehide'));
    reporter.flush();
    expect(calls).toHaveLength(0);
    expect(beacons).toHaveLength(0);
    expect(reporter.stats()).toMatchObject({ sent: 0, failed: 0, skipped: 0 });
  });

  it('keeps a report of 500 services under 60,000 bytes', async () => {
    const byService: SliReport['byService'] = {};
    for (let i = 0; i < 500; i++) {
      byService[`service_${i}_${'y'.repeat(80)}`] = { delivered: i, suppressed: 0, p95LatencyMs: 12.5 };
    }
    expect(utf8Length(JSON.stringify(report(byService)))).toBeGreaterThan(60_000);
    const { clock, calls, beacons, reporter, window } = setup({ collect: () => report(byService) });
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(1);
    expect(utf8Length(calls[0]?.init.body ?? '')).toBeLessThanOrEqual(60_000);
    await run(clock, FLUSH_GAP_MS);
    window.dispatchEvent(new Event('pagehide'));
    expect(beacons).toHaveLength(1);
    expect(beacons[0]?.data.size).toBeLessThanOrEqual(60_000);
    expect(beacons[0]?.data.size).toBeGreaterThan(50_000);
  });

  it('respects Retry-After in seconds, beyond the backoff', async () => {
    // The first failure's backoff is 90 s (random 0.5); the server asks for 4 minutes.
    const { clock, calls, reporter } = setup({}, async () => response(503, { 'retry-after': '240' }));
    reporter.start();
    await run(clock, 5 * MINUTE - 1000);
    expect(calls).toHaveLength(1);
    expect(reporter.stats()).toMatchObject({ failed: 1, lastStatus: 503, skipped: 3 });
    await run(clock, 1000);
    expect(calls.map((c) => c.at)).toEqual([MINUTE, 5 * MINUTE]);
  });

  // A proxy's `Retry-After: 86400` (or one of 400 digits, Infinity ms) blocked
  // every report for a day, or for the rest of the session.
  it.each([
    ['86400', '86400'],
    ['400 digits', '9'.repeat(400)],
  ])('caps a Retry-After of %s at 5 minutes', async (_, retryAfter) => {
    const { clock, calls, reporter } = setup({}, async () => response(503, { 'retry-after': retryAfter }));
    reporter.start();
    await run(clock, HOUR);
    expect(calls.map((c) => c.at).slice(0, 2)).toEqual([MINUTE, 6 * MINUTE]);
    expect(reporter.stats().failed).toBeGreaterThan(5);
  });

  it.each(['-5', 'soon', '1.5'])(
    'ignores a Retry-After of %s: the backoff alone decides',
    async (retryAfter) => {
      const { clock, calls, reporter } = setup({}, async () => response(503, { 'retry-after': retryAfter }));
      reporter.start();
      await run(clock, 3 * MINUTE);
      // Blocked for 90 s after the first failure: the tick at 3 minutes sends.
      expect(calls.map((c) => c.at)).toEqual([MINUTE, 3 * MINUTE]);
    },
  );

  it('respects Retry-After as an HTTP date', async () => {
    const clock = new FakeClock();
    let first = true;
    const { fetch, calls } = fakeFetch(clock, async () => {
      if (!first) return response(204);
      first = false;
      const at = new Date(clock.wall() + 4 * MINUTE).toUTCString();
      return response(429, { 'retry-after': at });
    });
    const reporter = new SliReporter({
      url: URL,
      sampled: true,
      collect: () => report(),
      fetch,
      clock,
      wallClock: clock.wall,
      random: () => 0,
    });
    reporter.start();
    await run(clock, 4 * MINUTE);
    expect(calls).toHaveLength(1);
    await run(clock, MINUTE);
    expect(calls.map((c) => c.at)).toEqual([MINUTE, 5 * MINUTE]);
    // Its success ends the backoff: the next minute sends again.
    await run(clock, MINUTE);
    expect(calls).toHaveLength(3);
  });

  it('a failing endpoint gets 10 requests in an hour, not 60 (random 0.5)', async () => {
    const { clock, calls, reporter } = setup({}, async () => response(500));
    reporter.start();
    await run(clock, HOUR);
    expect(calls.map((c) => c.at / 1000)).toEqual([60, 180, 360, 720, 1200, 1680, 2160, 2640, 3120, 3600]);
    expect(reporter.stats()).toMatchObject({ sent: 0, failed: 10, lastStatus: 500 });
  });

  it('a network error backs off as well; at worst jitter, 14 requests an hour', async () => {
    const { clock, calls, reporter } = setup({ random: () => 0 }, async () => {
      throw new TypeError('Failed to fetch');
    });
    reporter.start();
    await run(clock, HOUR);
    expect(calls.length).toBeLessThanOrEqual(14);
    expect(reporter.stats()).toMatchObject({ failed: calls.length, lastStatus: 'network_error' });
  });

  it('page-lifecycle flushes do not add a storm against a failing endpoint', async () => {
    const { clock, calls, beacons, reporter, hide, show, window } = setup(
      { sendBeacon: () => false },
      async () => response(503),
    );
    reporter.start();
    for (let s = 0; s < HOUR / 1000; s += 2) {
      hide();
      window.dispatchEvent(new Event('pagehide'));
      await run(clock, 1000);
      show();
      await run(clock, 1000);
    }
    expect(beacons).toHaveLength(0);
    expect(calls.length).toBeLessThanOrEqual(14);
  });

  it('recovers: a success resets the backoff', async () => {
    let fail = true;
    const { clock, calls, reporter } = setup({}, async () => response(fail ? 500 : 200));
    reporter.start();
    await run(clock, 6 * MINUTE); // sends at 1, 3, 6 min
    expect(calls).toHaveLength(3);
    fail = false;
    await run(clock, 6 * MINUTE); // blocked until 12 min, sends then
    expect(calls).toHaveLength(4);
    await run(clock, 3 * MINUTE);
    expect(calls).toHaveLength(7);
    expect(reporter.stats()).toMatchObject({ sent: 4, failed: 3, lastStatus: 200 });
  });

  it('never has more than one request in flight; a hung request times out', async () => {
    const { clock, calls, reporter } = setup({ timeoutMs: MINUTE }, () => new Promise(() => {}));
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(1);
    await run(clock, MINUTE); // the tick at 2 min finds it in flight, then it times out
    expect(calls).toHaveLength(1);
    expect(reporter.stats()).toMatchObject({ failed: 1, skipped: 1, lastStatus: 'timeout' });
    expect(calls[0]?.init.signal?.aborted).toBe(true);
  });

  it('flushes with sendBeacon on pagehide', async () => {
    const { clock, calls, beacons, reporter, window } = setup();
    reporter.start();
    await run(clock, 10_000);
    window.dispatchEvent(new Event('pagehide'));
    expect(beacons).toHaveLength(1);
    expect(beacons[0]?.url).toBe(URL);
    expect(beacons[0]?.data.type).toBe('text/plain;charset=utf-8');
    expect(JSON.parse((await beacons[0]?.data.text()) ?? '')).toEqual(report());
    expect(calls).toHaveLength(0);
    expect(reporter.stats()).toMatchObject({ sent: 1, lastStatus: 'beacon' });
  });

  it('flushes when the page becomes hidden, once for hidden + pagehide', async () => {
    const { clock, beacons, reporter, window, hide, show } = setup();
    reporter.start();
    await run(clock, 10_000);
    show();
    expect(beacons).toHaveLength(0);
    hide();
    window.dispatchEvent(new Event('pagehide'));
    expect(beacons).toHaveLength(1);
    expect(reporter.stats().skipped).toBe(1);
    await run(clock, FLUSH_GAP_MS);
    show();
    hide();
    expect(beacons).toHaveLength(2);
  });

  it('falls back to fetch keepalive when sendBeacon refuses or throws', async () => {
    for (const sendBeacon of [
      () => false,
      () => {
        throw new TypeError('quota');
      },
    ]) {
      const { clock, calls, reporter, window } = setup({ sendBeacon });
      reporter.start();
      await run(clock, 10_000);
      window.dispatchEvent(new Event('pagehide'));
      await flushPromises();
      expect(calls).toHaveLength(1);
      expect(calls[0]?.init.keepalive).toBe(true);
      expect(reporter.stats()).toMatchObject({ sent: 1, lastStatus: 204 });
    }
  });

  it('flush() respects the backoff', async () => {
    let answers = 0;
    const { clock, beacons, reporter } = setup({}, async () => response(answers++ === 0 ? 500 : 204));
    reporter.start();
    await run(clock, MINUTE); // fails; random 0.5 → blocked for 90 s
    reporter.flush();
    expect(beacons).toHaveLength(0);
    expect(reporter.stats().skipped).toBe(1);
    await run(clock, 90_000);
    reporter.flush();
    expect(beacons).toHaveLength(1);
  });

  it('send() posts by fetch, never by beacon, and counts a network failure', async () => {
    const { calls, beacons, reporter } = setup({}, async () => {
      throw new TypeError('fetch failed');
    });
    reporter.start();
    reporter.send();
    expect(beacons).toHaveLength(0);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.init.keepalive).toBe(true);
    await flushPromises();
    expect(reporter.stats()).toMatchObject({ sent: 0, failed: 1, lastStatus: 'network_error' });
  });

  it('send() posts even right after a report, and nothing when not sampled', async () => {
    const { clock, calls, reporter } = setup();
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(1);
    reporter.send(); // close() is no page-lifecycle flush: no FLUSH_GAP_MS
    expect(calls).toHaveLength(2);

    const off = setup({ sampled: false });
    off.reporter.send();
    expect(off.calls).toHaveLength(0);
  });

  it('send(true) (a tab going idle) keeps FLUSH_GAP_MS and skips while a request is in flight', async () => {
    const { clock, calls, reporter } = setup();
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(1);
    reporter.send(true); // right after the interval's report: too soon
    expect(calls).toHaveLength(1);
    expect(reporter.stats().skipped).toBe(1);
    await run(clock, FLUSH_GAP_MS);
    reporter.send(true);
    expect(calls).toHaveLength(2);
  });

  it('send() with a request in flight sends once that one has settled', async () => {
    let answer: ((r: TelemetryResponseLike) => void) | undefined;
    const { clock, calls, reporter } = setup({}, () => new Promise((resolve) => (answer = resolve)));
    reporter.start();
    await run(clock, MINUTE);
    expect(calls).toHaveLength(1);
    reporter.send();
    reporter.send();
    expect(calls).toHaveLength(1);
    answer?.(response(204));
    await flushPromises();
    expect(calls).toHaveLength(2);
    answer?.(response(204));
    await flushPromises();
    expect(calls).toHaveLength(2);
    expect(reporter.stats()).toMatchObject({ sent: 2, failed: 0 });
  });

  it('never throws when collect throws or the report cannot be encoded', async () => {
    let mode: 'throw' | 'unfit' = 'throw';
    const { clock, calls, reporter, window } = setup({
      collect: () => {
        if (mode === 'throw') throw new Error('collector broke');
        // Too large even without byService and sketch detail.
        return { ...report(), orgId: 'x'.repeat(70_000) };
      },
    });
    reporter.start();
    await run(clock, MINUTE);
    expect(() => window.dispatchEvent(new Event('pagehide'))).not.toThrow();
    expect(reporter.stats()).toMatchObject({ skipped: 2, lastError: 'collector broke' });
    mode = 'unfit';
    await run(clock, MINUTE);
    expect(reporter.stats().lastError).toMatch(/^SLI report is \d+ bytes even without byService/);
    expect(calls).toHaveLength(0);
  });

  it('never throws when fetch throws synchronously', async () => {
    const { clock, reporter } = setup({
      fetch: () => {
        throw new TypeError('bad');
      },
    });
    reporter.start();
    await run(clock, MINUTE);
    expect(reporter.stats()).toMatchObject({ failed: 1, lastStatus: 'network_error' });
  });

  it('stop() ends the interval and the listeners', async () => {
    const { clock, calls, beacons, reporter, window } = setup();
    reporter.start();
    reporter.start();
    await run(clock, MINUTE);
    reporter.stop();
    expect(clock.pending).toBe(0);
    await run(clock, 10 * MINUTE, 10_000);
    window.dispatchEvent(new Event('pagehide'));
    expect(calls).toHaveLength(1);
    expect(beacons).toHaveLength(0);
  });
});
