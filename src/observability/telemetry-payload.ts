import * as z from 'zod/mini';
import { serviceNameSchema } from '../protocol/schemas';
import { assertInteger } from '../util/validate';
import { MIN_RELATIVE_ACCURACY, type QuantileSketch } from './quantile-sketch';
import { sketchFromJSON } from './sketch-codec';

/**
 * Largest encoded report, in UTF-8 bytes. Browsers give keepalive fetches and
 * beacons 64 KiB in total, shared by every one still in flight on the page;
 * 60,000 leaves room for the headers' share and another small request.
 */
export const MAX_REPORT_BYTES = 60_000;

/** The `type` every SLI report carries, as the telemetry ingest routes on it. */
export const SLI_REPORT_TYPE = 'realtime_sli';

const count = z.int().check(z.nonnegative());
const nonNegative = z.number().check(z.nonnegative());

// `QuantileSketch.toJSON()` (quantile-sketch.ts), with the bounds
// `sketchFromJSON` (sketch-codec.ts) enforces on the settings; the deeper
// checks (bucket range, min ≤ max) stay with `sketchFromJSON`, which the
// ingest runs anyway.
const bucketSketchSchema = z.object({
  relativeAccuracy: z.number().check(z.gte(MIN_RELATIVE_ACCURACY), z.lte(0.5)),
  minValue: z.number().check(z.gt(0)),
  maxBuckets: z.int().check(z.gte(2)),
  sum: z.number().check(z.gte(0)),
  min: z.number().check(z.gte(0)),
  max: z.number().check(z.gte(0)),
  zeroCount: count,
  startIndex: z.int(),
  counts: z.array(count),
});

/**
 * A quantile sketch as it travels: the compact `toJSON()` form of
 * {@link QuantileSketch}, or a plain record of numbers — the summary
 * {@link encodeReport} puts in a sketch's place when the report must shrink
 * (`{ count, sum, min, max, p50, p90, p95, p99 }`), and what a producer
 * without a sketch may send.
 */
export const sketchJsonSchema = z.union([bucketSketchSchema, z.record(z.string(), z.number())]);

/** See {@link sketchJsonSchema}. */
export type SketchJSON = z.infer<typeof sketchJsonSchema>;

/** Figures of one service over the report's window. */
export const serviceSliSchema = z.object({
  /** Events handed to handlers. */
  delivered: count,
  /** Events dropped as duplicates, filtered or invalid. */
  suppressed: count,
  p95LatencyMs: z.optional(nonNegative),
});

/**
 * The body of a `POST` to the telemetry URL (docs/observability.md):
 * one sampled tab's SLIs over `windowMs`. The leader reports connection
 * SLIs; every sampled tab its own dispatch SLIs.
 */
export const sliReportSchema = z.object({
  type: z.literal(SLI_REPORT_TYPE),
  /** Version of this payload. */
  v: z.literal(1),
  sessionId: z.string().check(z.minLength(1), z.maxLength(200)),
  tabId: z.string().check(z.minLength(1), z.maxLength(200)),
  orgId: z.optional(z.string().check(z.maxLength(200))),
  /** Wall-clock epoch ms when the report was assembled. */
  sentAt: z.number(),
  /** Length of the window the figures cover. */
  windowMs: nonNegative,
  isLeader: z.boolean(),
  health: z.object({
    circuitOpen: z.boolean(),
    lastSuccessAt: z.optional(z.number()),
    status: z.enum(['idle', 'connecting', 'connected', 'reconnecting', 'disabled', 'closed']),
  }),
  sli: z.object({
    eventDeliveryLatencyMs: z.optional(sketchJsonSchema),
    takeoverTimeMs: z.optional(sketchJsonSchema),
    mutationToVisibleMs: z.optional(sketchJsonSchema),
    leaderElectionsPerHour: nonNegative,
    /** Share of the window the breaker was open, 0..100. */
    circuitOpenPercent: z.number().check(z.gte(0), z.lte(100)),
    /** Tracked mutations that timed out, 0..1. */
    optimisticTimeoutRate: z.number().check(z.gte(0), z.lte(1)),
    gaps: count,
    invalidFrames: count,
    reconnects: count,
    droppedEvents: count,
  }),
  byService: z.record(serviceNameSchema, serviceSliSchema),
  slo: z.optional(
    z.record(
      z.string(),
      z.object({ value: z.optional(z.number()), target: z.number(), ok: z.optional(z.boolean()) }),
    ),
  ),
  alerts: z.optional(
    z.array(
      z.object({
        name: z.string(),
        level: z.enum(['critical', 'warning', 'info']),
        value: z.optional(z.number()),
        threshold: z.number(),
      }),
    ),
  ),
  rollback: z.optional(z.object({ active: z.boolean(), reason: z.optional(z.string()) })),
  /**
   * Set by {@link encodeReport} when the report had to shrink to fit:
   * `services` entries of `byService` were left out (the lowest-traffic
   * ones) and `sketches` sketches lost their bucket counts.
   */
  truncated: z.optional(z.object({ services: count, sketches: count })),
});

/** One SLI report; see {@link sliReportSchema}. */
export type SliReport = z.infer<typeof sliReportSchema>;

type SketchKey = 'eventDeliveryLatencyMs' | 'takeoverTimeMs' | 'mutationToVisibleMs';
const SKETCH_KEYS: readonly SketchKey[] = ['eventDeliveryLatencyMs', 'takeoverTimeMs', 'mutationToVisibleMs'];

/**
 * UTF-8 length of `text` without encoding it. A lone surrogate counts 3
 * bytes, as `TextEncoder` writes U+FFFD for it (JSON.stringify escapes lone
 * surrogates anyway).
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Quantiles kept when a sketch is reduced to its summary. */
export const SUMMARY_QUANTILES = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 } as const;

/**
 * A bucket sketch reduced to `{ count, sum, min, max, p50, p90, p95, p99 }`
 * — a few dozen bytes instead of up to `maxBuckets` counts. A summary is
 * returned as it is.
 */
export function summarizeSketch(sketch: SketchJSON): Record<string, number> {
  if (!isBucketSketch(sketch)) return sketch;
  let count = sketch.zeroCount;
  for (const n of sketch.counts) count += n;
  const summary: Record<string, number> = { count, sum: sketch.sum, min: sketch.min, max: sketch.max };
  try {
    const full = sketchFromJSON(sketch);
    for (const [name, q] of Object.entries(SUMMARY_QUANTILES)) {
      const value = full.quantile(q);
      if (value !== undefined) summary[name] = value;
    }
  } catch {
    // Settings the schema let through but the sketch refuses: keep the exact part.
  }
  return summary;
}

function isBucketSketch(sketch: SketchJSON): sketch is z.infer<typeof bucketSketchSchema> {
  return Array.isArray(sketch.counts);
}

/**
 * Validates `report` and encodes it as JSON of at most `maxBytes` UTF-8 bytes.
 *
 * A report over the budget shrinks in this order, each step only as far as
 * needed:
 * 1. `byService` entries are left out, lowest traffic (`delivered +
 *    suppressed`) first, ties by name — the busy services are the ones an
 *    operator looks at;
 * 2. the sketches, largest first, are replaced by their summaries
 *    ({@link summarizeSketch}: count, sum, min, max and four quantiles).
 *
 * What was shed is recorded in `truncated`. The result never exceeds
 * `maxBytes`.
 *
 * @throws RangeError when the report does not match {@link sliReportSchema},
 *   or when it is still too large after both steps (only with huge `slo`,
 *   `alerts` or ids).
 */
export function encodeReport(report: SliReport, maxBytes: number = MAX_REPORT_BYTES): string {
  assertInteger('maxBytes', maxBytes, 1);
  const parsed = sliReportSchema.safeParse(report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    throw new RangeError(`SLI report is invalid: ${where}${issue?.message ?? 'invalid'}`);
  }
  let current: SliReport = parsed.data;
  let body = JSON.stringify(current);
  let bytes = utf8Length(body);
  if (bytes <= maxBytes) return body;

  // 1. Services, lowest traffic first. Each entry's share of the body is
  //    `"name":{…},`; drop just enough, re-measure (the `truncated` field and
  //    the last entry's missing comma make the estimate slightly off), repeat.
  const original = current.byService;
  const byTraffic = Object.entries(original).sort(
    ([nameA, a], [nameB, b]) =>
      a.delivered + a.suppressed - (b.delivered + b.suppressed) ||
      (nameA < nameB ? -1 : nameA > nameB ? 1 : 0),
  );
  const dropped = new Set<string>();
  while (bytes > maxBytes && dropped.size < byTraffic.length) {
    let excess = bytes - maxBytes;
    while (excess > 0 && dropped.size < byTraffic.length) {
      const entry = byTraffic[dropped.size];
      if (entry === undefined) break;
      const [name, value] = entry;
      dropped.add(name);
      excess -= utf8Length(JSON.stringify(name)) + utf8Length(JSON.stringify(value)) + 2;
    }
    const byService = Object.fromEntries(Object.entries(original).filter(([name]) => !dropped.has(name)));
    current = { ...current, byService, truncated: { services: dropped.size, sketches: 0 } };
    body = JSON.stringify(current);
    bytes = utf8Length(body);
  }
  if (bytes <= maxBytes) return body;

  // 2. Sketch detail, largest sketch first; summaries are already small.
  const sketches = SKETCH_KEYS.flatMap((key) => {
    const sketch = current.sli[key];
    return sketch === undefined || !isBucketSketch(sketch) ? [] : [{ key, sketch }];
  }).sort((a, b) => b.sketch.counts.length - a.sketch.counts.length);
  let shed = 0;
  for (const { key, sketch } of sketches) {
    const sli = { ...current.sli, [key]: summarizeSketch(sketch) };
    shed += 1;
    current = { ...current, sli, truncated: { services: dropped.size, sketches: shed } };
    body = JSON.stringify(current);
    bytes = utf8Length(body);
    if (bytes <= maxBytes) return body;
  }
  throw new RangeError(
    `SLI report is ${bytes} bytes even without byService and sketch detail, over maxBytes ${maxBytes}`,
  );
}
