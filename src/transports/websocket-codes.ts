import type { RealtimeError, RealtimeErrorCode } from '../errors';
import type { TransportKit } from './kit';

// Loaded only with the WebSocket transport: the core's error class and its
// refusals (`REFUSALS`, failures.ts) come as an argument, never by an import
// (see kit.ts).

/** What a close code says: one of PROTOCOL.md's refusals, or just the code as `status`. */
export interface CloseMeaning {
  status: number;
  code?: RealtimeErrorCode;
  error?: unknown;
}

/**
 * The refusal a close code stands for (`{ status: 401, code: 'unauthorized' }`
 * for 4401), else `{ status: closeCode }`. A fresh object, so the caller may
 * add the socket's `error` and hand it on as the close reason.
 */
export function closeMeaning(closeCode: number, refusals: ReadonlyMap<string, number>): CloseMeaning {
  for (const [code, status] of refusals) {
    if (closeCode === 4000 + status) return { status, code: code as RealtimeErrorCode };
  }
  return { status: closeCode };
}

/**
 * If the first message of a socket is an `error` frame, the refusal it
 * carries as a `RealtimeError`; otherwise `undefined`. Only this one frame per
 * connection is parsed here, and only when it looks like an error frame.
 * `RealtimeError` is the core's class, from the transport's kit, as are the refusals.
 */
export function errorFromFirstFrame(
  data: unknown,
  { RealtimeError, refusals }: TransportKit,
): RealtimeError | undefined {
  if (typeof data !== 'string' || !data.includes('"error"')) return undefined;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  // `null` has no fields; other JSON values read as undefined ones.
  const { type, code, message, retryAfterMs } = (frame ?? {}) as Record<string, unknown>;
  if (type !== 'error' || typeof code !== 'string') return undefined;
  const status = refusals.get(code);
  return new RealtimeError(
    status ? (code as RealtimeErrorCode) : 'server_error',
    typeof message === 'string' ? message.slice(0, 200) : code,
    {
      status,
      retryAfterMs: typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : undefined,
    },
  );
}
