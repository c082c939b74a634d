import * as z from 'zod/mini';

/** Largest telemetry body accepted, in bytes. */
export const MAX_TELEMETRY_BYTES = 64 * 1024;
/** Reports kept; older ones are dropped first. */
export const MAX_TELEMETRY_REPORTS = 1000;

/** A telemetry report: any JSON object with a string `type`. */
export const telemetryReportSchema = z.looseObject({ type: z.string() });

/** Appends a report, dropping the oldest beyond {@link MAX_TELEMETRY_REPORTS}. */
export function keepTelemetry(inbox: unknown[], report: unknown): void {
  inbox.push(report);
  if (inbox.length > MAX_TELEMETRY_REPORTS) inbox.splice(0, inbox.length - MAX_TELEMETRY_REPORTS);
}
