import { loadWebSocketClient } from './load-ws';
import { runChecks } from './run';
import type { CheckBackendOptions, ConformanceReport } from './types';

export { formatReport } from './format';
export type {
  CheckBackendOptions,
  CheckName,
  CheckResult,
  CheckStatus,
  ConformanceReport,
  ConformanceToken,
  ConformanceTransport,
} from './types';

/**
 * Checks that a running backend speaks PROTOCOL.md the way the tabwire
 * client needs it (Node only: run it in the backend's CI, or by hand). Over
 * each transport it connects as the client does, publishes a few events
 * through `publish`, and checks the welcome, auth refusals, heartbeats or
 * empty polls, batches (seq, `after`, `cursor`, SSE `id:`), a held long-poll
 * ended by an event, replay from a cursor, a `reset` for a cursor past the
 * head, adding a service and a WebSocket `auth` frame. Frames are read with
 * the client's own reader; an SSE stream the server ends is resumed from the
 * cursor, as the client reconnects.
 *
 * Never rejects for what the backend does: every check ends within
 * `timeoutMs` and reports a failure with what was expected and what came
 * back. Bad options throw a `TypeError` or `RangeError`. WebSocket checks need
 * the optional peer `ws` (or a global `WebSocket`); without one they are
 * skipped.
 *
 * ```ts
 * const report = await checkBackend({
 *   url: 'http://127.0.0.1:8080/v2/realtime',
 *   getToken: async () => 'token-of-a-test-user',
 *   publish: async (service) => { await fetch(`http://127.0.0.1:8080/test/publish/${service}`, { method: 'POST' }) },
 *   services: ['tasks', 'finance'],
 * });
 * console.log(formatReport(report));
 * if (!report.ok) process.exitCode = 1;
 * ```
 */
export async function checkBackend(options: CheckBackendOptions): Promise<ConformanceReport> {
  return runChecks(options, await loadWebSocketClient());
}
