import { QuantileSketch, type QuantileSketchJSON } from './quantile-sketch';
import type { SketchJSON, SliReport } from './telemetry-payload';

// Encoding of the SLI report the reporter sends. It takes only types from
// the schemas (telemetry-payload.ts), so the lazily loaded reporter needs
// neither zod nor any module the core also loads: a chunk shared with the
// core would cost every app a request and bytes.

/**
 * Largest encoded report, in UTF-8 bytes. Browsers give keepalive fetches and
 * beacons 64 KiB in total, shared by every one still in flight on the page;
 * 60,000 leaves room for the headers' share and another small request.
 */
export const MAX_REPORT_BYTES = 60_000;

type SketchKey = 'eventDeliveryLatencyMs' | 'takeoverTimeMs' | 'mutationToVisibleMs';
/** The sketches of a report's `sli`. */
export const SKETCH_KEYS: readonly SketchKey[] = [
  'eventDeliveryLatencyMs',
  'takeoverTimeMs',
  'mutationToVisibleMs',
];

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
    // The client's own sketch, so rebuilt unchecked (`sketchFromJSON` is for
    // one from a wire, and its checks would tie this lazy module to the core's).
    const full = new QuantileSketch(sketch);
    if (count > 0)
      full._load(
        sketch.startIndex,
        sketch.counts,
        sketch.zeroCount,
        sketch.sum,
        sketch.min,
        sketch.max,
        false,
      );
    for (const [name, q] of Object.entries(SUMMARY_QUANTILES)) {
      const value = full.quantile(q);
      if (value !== undefined) summary[name] = value;
    }
  } catch {
    // A sketch the class cannot read back: keep the exact part.
  }
  return summary;
}

function isBucketSketch(sketch: SketchJSON): sketch is QuantileSketchJSON {
  return Array.isArray(sketch.counts);
}

/**
 * Encodes `report` as JSON of at most `maxBytes` UTF-8 bytes. The report is
 * the client's own (`buildSliReport`), so it is not parsed again here: the
 * tests check that what the client builds matches `sliReportSchema`,
 * and the ingest validates what it receives.
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
 * @throws RangeError when the report is still too large after both steps
 *   (only with huge `slo`, `alerts` or ids).
 */
export function encodeReport(report: SliReport, maxBytes: number = MAX_REPORT_BYTES): string {
  let current = report;
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
