import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../../src/observability/quantile-sketch';
import { sketchFromJSON } from '../../../src/observability/sketch-codec';
import {
  encodeReport,
  MAX_REPORT_BYTES,
  summarizeSketch,
  utf8Length,
} from '../../../src/observability/telemetry-encode';
import {
  type SliReport,
  sketchJsonSchema,
  sliReportSchema,
} from '../../../src/observability/telemetry-payload';

function report(overrides: Partial<SliReport> = {}): SliReport {
  return {
    type: 'realtime_sli',
    v: 1,
    sessionId: 'sess_1',
    tabId: 'tab_1',
    orgId: 'org_1',
    sentAt: 1_700_000_000_000,
    windowMs: 60_000,
    isLeader: true,
    health: { circuitOpen: false, lastSuccessAt: 1_699_999_999_000, status: 'connected' },
    sli: {
      leaderElectionsPerHour: 0.5,
      circuitOpenPercent: 0,
      optimisticTimeoutRate: 0.01,
      gaps: 0,
      invalidFrames: 1,
      reconnects: 2,
      droppedEvents: 0,
    },
    byService: { tasks: { delivered: 10, suppressed: 1, p95LatencyMs: 120 } },
    ...overrides,
  };
}

// Spread over many buckets: about 1,600 counts with the default accuracy.
function wideSketch(): QuantileSketch {
  const sketch = new QuantileSketch();
  for (let v = 0.01; v < 1e5; v *= 1.005) sketch.add(v, 1 + Math.floor(v % 97));
  return sketch;
}

function manyServices(n: number): SliReport['byService'] {
  const byService: SliReport['byService'] = {};
  for (let i = 0; i < n; i++) {
    const name = `service_${String(i).padStart(3, '0')}_${'x'.repeat(80)}`;
    byService[name] = { delivered: i * 10, suppressed: i % 7, p95LatencyMs: 100 + i };
  }
  return byService;
}

describe('sliReportSchema', () => {
  it('accepts a full report', () => {
    const full = report({
      slo: { deliveryP99: { value: 1800, target: 2000, ok: true }, takeoverP95: { target: 500 } },
      alerts: [{ name: 'leader_churn', level: 'warning', value: 4, threshold: 3 }],
      rollback: { active: false },
    });
    expect(sliReportSchema.safeParse(full).success).toBe(true);
  });

  it('accepts QuantileSketch.toJSON() and a summary record as sketches', () => {
    const sketch = new QuantileSketch();
    sketch.add(12);
    sketch.add(340);
    expect(sketchJsonSchema.safeParse(sketch.toJSON()).success).toBe(true);
    expect(sketchJsonSchema.safeParse(new QuantileSketch().toJSON()).success).toBe(true);
    expect(sketchJsonSchema.safeParse({ p50: 12, p99: 340 }).success).toBe(true);
    // A relativeAccuracy this small would make any reader of the sketch loop for ever.
    const hostile = { ...sketch.toJSON(), relativeAccuracy: 1e-13 };
    expect(sketchJsonSchema.safeParse(hostile).success).toBe(false);
    const withSketch = report({
      sli: { ...report().sli, eventDeliveryLatencyMs: sketch.toJSON(), takeoverTimeMs: { p95: 80 } },
    });
    expect(sliReportSchema.safeParse(withSketch).success).toBe(true);
  });

  it('accepts sli.flagsUrlFailures, and a report of an older client without it', () => {
    const withIt = sliReportSchema.parse(report({ sli: { ...report().sli, flagsUrlFailures: 4 } }));
    expect(withIt.sli.flagsUrlFailures).toBe(4);
    expect('flagsUrlFailures' in report().sli).toBe(false);
    expect(sliReportSchema.safeParse(report()).success).toBe(true);
  });

  it.each([
    ['type', { type: 'other' }],
    ['v', { v: 2 }],
    ['status', { health: { circuitOpen: false, status: 'up' } }],
    ['negative count', { sli: { ...report().sli, gaps: -1 } }],
    ['percent > 100', { sli: { ...report().sli, circuitOpenPercent: 101 } }],
    ['negative flagsUrlFailures', { sli: { ...report().sli, flagsUrlFailures: -1 } }],
    ['fractional flagsUrlFailures', { sli: { ...report().sli, flagsUrlFailures: 0.5 } }],
    ['prototype key', { byService: { constructor: { delivered: 1, suppressed: 0 } } }],
    ['fractional delivered', { byService: { tasks: { delivered: 1.5, suppressed: 0 } } }],
  ] as const)('rejects a bad %s', (_name, overrides) => {
    expect(sliReportSchema.safeParse({ ...report(), ...overrides }).success).toBe(false);
  });
});

it('strips a __proto__ service key (zod skips it)', () => {
  const byService = JSON.parse('{"__proto__":{"delivered":1,"suppressed":0}}');
  const parsed = sliReportSchema.parse({ ...report(), byService });
  expect(Object.keys(parsed.byService)).toEqual([]);
});

describe('utf8Length', () => {
  it.each(['', 'abc', 'é', '€', '😀', 'a😀é€', '\ud800', 'x\udc00y'])(
    'matches TextEncoder for %j',
    (text) => {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
    },
  );
});

describe('encodeReport', () => {
  it('encodes a small report unchanged', () => {
    const r = report();
    const body = encodeReport(r);
    expect(JSON.parse(body)).toEqual(r);
    expect(body).not.toContain('truncated');
  });

  it('defaults to a 60,000-byte budget', () => {
    expect(MAX_REPORT_BYTES).toBe(60_000);
  });

  it('keeps 500 services under 60,000 bytes by dropping the lowest-traffic ones', () => {
    const r = report({ byService: manyServices(500) });
    expect(utf8Length(JSON.stringify(r))).toBeGreaterThan(60_000);
    const body = encodeReport(r);
    expect(utf8Length(body)).toBeLessThanOrEqual(60_000);
    const decoded = sliReportSchema.parse(JSON.parse(body));
    const kept = Object.keys(decoded.byService);
    expect(decoded.truncated?.services).toBe(500 - kept.length);
    expect(decoded.truncated?.sketches).toBe(0);
    // Just enough dropped: most stay, and they are the busiest.
    expect(kept.length).toBeGreaterThan(400);
    const keptTraffic = kept.map((name) => decoded.byService[name]?.delivered ?? -1);
    const droppedNames = Object.keys(r.byService).filter((name) => !kept.includes(name));
    const droppedTraffic = droppedNames.map((name) => r.byService[name]?.delivered ?? -1);
    expect(Math.min(...keptTraffic)).toBeGreaterThanOrEqual(Math.max(...droppedTraffic));
    // One more service would not have fitted.
    expect(body.length).toBeGreaterThan(60_000 - 300);
  });

  it('never exceeds maxBytes for any budget', () => {
    const r = report({ byService: manyServices(500) });
    for (const maxBytes of [2_000, 5_000, 12_345, 30_000, 59_999]) {
      expect(utf8Length(encodeReport(r, maxBytes))).toBeLessThanOrEqual(maxBytes);
    }
  });

  it('drops services before touching sketches, then summarises the largest sketch first', () => {
    const big = wideSketch().toJSON();
    const small = new QuantileSketch();
    small.add(5);
    small.add(7);
    const r = report({
      byService: manyServices(50),
      sli: { ...report().sli, eventDeliveryLatencyMs: big, takeoverTimeMs: small.toJSON() },
    });
    const withoutServices = utf8Length(JSON.stringify({ ...r, byService: {} }));
    const bigSize = utf8Length(JSON.stringify(big));
    // Room for everything but the services and most of the big sketch's buckets.
    const body = encodeReport(r, withoutServices - bigSize + 500);
    const decoded = sliReportSchema.parse(JSON.parse(body));
    expect(decoded.truncated).toEqual({ services: 50, sketches: 1 });
    expect(Object.keys(decoded.byService)).toEqual([]);
    expect(decoded.sli.takeoverTimeMs).toEqual(small.toJSON());
    const summary = decoded.sli.eventDeliveryLatencyMs as Record<string, number>;
    expect(Object.keys(summary).sort()).toEqual(['count', 'max', 'min', 'p50', 'p90', 'p95', 'p99', 'sum']);
    expect(summary.count).toBe(sketchFromJSON(big).count);
  });

  it('throws when even the stripped report cannot fit', () => {
    const r = report({ byService: manyServices(10), slo: { ['x'.repeat(3000)]: { target: 1 } } });
    expect(() => encodeReport(r, 2_000)).toThrow(RangeError);
  });

  it('counts multibyte text in bytes, not characters', () => {
    const r = report({ orgId: 'ö'.repeat(150), byService: manyServices(40) });
    const body = encodeReport(r, 3_000);
    expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(3_000);
  });
});

describe('summarizeSketch', () => {
  it('keeps the exact count, sum, min and max and quantiles within the accuracy', () => {
    const sketch = new QuantileSketch();
    for (let i = 1; i <= 1000; i++) sketch.add(i);
    const summary = summarizeSketch(sketch.toJSON());
    expect(summary.count).toBe(1000);
    expect(summary.sum).toBe(500_500);
    expect(summary.min).toBe(1);
    expect(summary.max).toBe(1000);
    expect(summary.p50).toBeGreaterThan(495 * 0.98);
    expect(summary.p50).toBeLessThan(500 * 1.02);
  });

  it('returns a summary as it is', () => {
    expect(summarizeSketch({ p50: 1 })).toEqual({ p50: 1 });
  });
});
