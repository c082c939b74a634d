import { RealtimeError, type RealtimeErrorCode } from '../errors';
import type { TransportCloseReason } from './types';

/**
 * Application close codes of PROTOCOL.md's WebSocket endpoint: 4000 + the
 * HTTP status the same refusal would have over HTTP.
 */
const CLOSE_CODES: Readonly<Record<number, { status: number; code: RealtimeErrorCode }>> = {
  4400: { status: 400, code: 'bad_request' },
  4401: { status: 401, code: 'unauthorized' },
  4403: { status: 403, code: 'forbidden' },
  4429: { status: 429, code: 'overloaded' },
};

// A Map, not an object: the code comes from the network and must not reach
// Object.prototype (`constructor`, `__proto__`).
const STATUS_FOR_ERROR_CODE: ReadonlyMap<string, number> = new Map([
  ['bad_request', 400],
  ['unauthorized', 401],
  ['forbidden', 403],
  ['overloaded', 429],
]);

/** The close reason handed to `onClose` for a socket that closed after it was accepted. */
export function closeReasonForCode(closeCode: number, error?: unknown): TransportCloseReason {
  const mapped = CLOSE_CODES[closeCode];
  const reason: TransportCloseReason = mapped === undefined ? { status: closeCode } : { ...mapped };
  if (error !== undefined) reason.error = error;
  return reason;
}

/**
 * The rejection of a connect attempt whose socket closed before the server's
 * first frame: the server's refusal when the close code carries one, else
 * `transport_unavailable` (a proxy that does not pass WebSocket looks like this).
 */
export function errorForEarlyClose(closeCode: number, cause?: unknown): RealtimeError {
  const mapped = CLOSE_CODES[closeCode];
  if (mapped !== undefined) {
    return new RealtimeError(mapped.code, `server closed the WebSocket with ${closeCode}`, {
      status: mapped.status,
      cause,
    });
  }
  return new RealtimeError(
    'transport_unavailable',
    `WebSocket closed before the server answered (${closeCode})`,
    {
      status: closeCode,
      cause,
    },
  );
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
  const status = STATUS_FOR_ERROR_CODE.get(code);
  const text = typeof message === 'string' ? message.slice(0, 200) : code;
  return new RealtimeError(status === undefined ? 'server_error' : (code as RealtimeErrorCode), text, {
    status,
    retryAfterMs: typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : undefined,
  });
}
