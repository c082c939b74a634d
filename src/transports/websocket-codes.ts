import { RealtimeError, type RealtimeErrorCode } from '../errors';
import { unavailable } from './failures';
import type { TransportCloseReason } from './types';

/**
 * The refusals of PROTOCOL.md's WebSocket endpoint: error code → the HTTP
 * status the same refusal has over HTTP. Its close code is 4000 + that status
 * (4400, 4401, 4403, 4429). A Map, not an object: the code comes from the
 * network and must not reach Object.prototype (`constructor`, `__proto__`).
 */
const REFUSALS: ReadonlyMap<string, number> = new Map([
  ['bad_request', 400],
  ['unauthorized', 401],
  ['forbidden', 403],
  ['overloaded', 429],
]);

/** The refusal a close code stands for, if it is one of PROTOCOL.md's. */
function refusalOf(closeCode: number): { status: number; code: RealtimeErrorCode } | undefined {
  for (const [code, status] of REFUSALS) {
    if (closeCode === 4000 + status) return { status, code: code as RealtimeErrorCode };
  }
  return undefined;
}

/** The close reason handed to `onClose` for a socket that closed after it was accepted. */
export function closeReasonForCode(closeCode: number, error?: unknown): TransportCloseReason {
  const reason: TransportCloseReason = refusalOf(closeCode) ?? { status: closeCode };
  if (error !== undefined) reason.error = error;
  return reason;
}

/**
 * The rejection of a connect attempt whose socket closed before the server's
 * first frame: the server's refusal when the close code carries one, else
 * `transport_unavailable` (a proxy that does not pass WebSocket looks like this).
 */
export function errorForEarlyClose(closeCode: number, cause?: unknown): RealtimeError {
  const refusal = refusalOf(closeCode);
  return refusal === undefined
    ? unavailable(`WebSocket closed before the server answered (${closeCode})`, { status: closeCode, cause })
    : new RealtimeError(refusal.code, `server closed the WebSocket with ${closeCode}`, {
        status: refusal.status,
        cause,
      });
}

/**
 * If the first message of a socket is an `error` frame, the refusal it
 * carries as a `RealtimeError`; otherwise `undefined`. Only this one frame per
 * connection is parsed here, and only when it looks like an error frame.
 */
export function errorFromFirstFrame(data: unknown): RealtimeError | undefined {
  if (typeof data !== 'string' || !data.includes('"error"')) return undefined;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof frame !== 'object' || frame === null) return undefined;
  const { type, code, message, retryAfterMs } = frame as Record<string, unknown>;
  if (type !== 'error' || typeof code !== 'string') return undefined;
  const status = REFUSALS.get(code);
  const text = typeof message === 'string' ? message.slice(0, 200) : code;
  return new RealtimeError(status === undefined ? 'server_error' : (code as RealtimeErrorCode), text, {
    status,
    retryAfterMs: typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : undefined,
  });
}
