import type { ConformanceReport } from './types';

const MARK = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' } as const;

/**
 * The report as plain text, one line per check (`PASS`, `FAIL` or `SKIP`,
 * the transport, the check, its detail) under a summary line: for a CI log.
 */
export function formatReport(report: ConformanceReport): string {
  const count = (status: keyof typeof MARK): number =>
    report.checks.filter((c) => c.status === status).length;
  const head = `tabwire backend check of ${report.url}: ${report.ok ? 'OK' : 'FAILED'} (${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped, ${(report.durationMs / 1000).toFixed(1)} s)`;
  const width = Math.max(0, ...report.checks.map((c) => `${c.transport} ${c.name}`.length));
  const lines = report.checks.map(
    (c) => `${MARK[c.status]}  ${`${c.transport} ${c.name}`.padEnd(width)}  ${c.detail}`,
  );
  return [head, ...lines].join('\n');
}
