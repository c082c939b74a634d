import * as z from 'zod/mini';
import { serviceNameSchema } from '../protocol/schemas';
import { MIN_RELATIVE_ACCURACY } from './quantile-sketch';
import { MAX_REPORT_ID_CHARS } from './sli-report';

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
  sessionId: z.string().check(z.minLength(1), z.maxLength(MAX_REPORT_ID_CHARS)),
  tabId: z.string().check(z.minLength(1), z.maxLength(MAX_REPORT_ID_CHARS)),
  orgId: z.optional(z.string().check(z.maxLength(MAX_REPORT_ID_CHARS))),
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
    /** Polls of `flagsUrl` that failed or were refused; optional: clients before it leave it out. */
    flagsUrlFailures: z.optional(count),
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
