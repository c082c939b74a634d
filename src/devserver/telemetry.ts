import * as z from 'zod/mini';
import { sketchFromJSON } from '../observability/sketch-codec';
import { SKETCH_KEYS } from '../observability/telemetry-encode';
import type { SliReport } from '../observability/telemetry-payload';

/** Largest telemetry body accepted, in bytes. */
export const MAX_TELEMETRY_BYTES = 64 * 1024;
/** Reports kept; older ones are dropped first. */
export const MAX_TELEMETRY_REPORTS = 1000;

/** A telemetry report: any JSON object with a string `type`. */
export const telemetryReportSchema = z.looseObject({ type: z.string() });

/**
 * The first bucket sketch of an SLI report (already matching
 * `sliReportSchema`) that does not read back, as `sketchFromJSON` says why
 * (bucket range, min ≤ max, totals: what the schema leaves to it); undefined
 * when every sketch reads back. The client sends its report without parsing
 * it again, so this ingest is where a broken one is refused.
 */
export function unreadableSketch(report: SliReport): string | undefined {
  for (const key of SKETCH_KEYS) {
    const sketch = report.sli[key];
    if (sketch === undefined || !Array.isArray(sketch.counts)) continue;
    try {
      sketchFromJSON(sketch, `sli.${key}`);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }
  return undefined;
}

/** Appends a report, dropping the oldest beyond {@link MAX_TELEMETRY_REPORTS}. */
export function keepTelemetry(inbox: unknown[], report: unknown): void {
  inbox.push(report);
  if (inbox.length > MAX_TELEMETRY_REPORTS) inbox.splice(0, inbox.length - MAX_TELEMETRY_REPORTS);
}
