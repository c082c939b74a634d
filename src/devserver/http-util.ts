import type { IncomingMessage, ServerResponse } from 'node:http';
import { MUTATION_ID_HEADER } from '../optimistic/mutation-header';
import { decodeCursor, MAX_CURSOR_LENGTH } from '../protocol/cursor';
import { type Cursor, serviceNameSchema } from '../protocol/schemas';
import { type AuthResult, readBearer } from './auth';
import type { TokenIdentity } from './types';

/** Largest JSON body of the dev server's POST endpoints (telemetry has its own). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** CORS headers on every answer, so demo pages served from another port can call the server. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  // The mutation id header too: a page on another origin sends its write to
  // /dev/publish with it (`withMutationId`), and it is not CORS-safelisted,
  // so without it here the browser's preflight refuses the write.
  'Access-Control-Allow-Headers': `Authorization, Content-Type, Last-Event-ID, ${MUTATION_ID_HEADER}`,
  'Access-Control-Expose-Headers': 'Retry-After',
  'Access-Control-Max-Age': '600',
};

/** An HTTP answer other than 2xx, with the protocol's `error` body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
    /** Extra answer headers (`Allow` of a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Writes a JSON answer (with CORS) unless the response is already gone. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** A bodiless answer (204, 304) with CORS. */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...CORS_HEADERS, 'Cache-Control': 'no-store', ...headers });
  res.end();
}

/** Answers with `{ type: 'error', code, message, retryAfterMs? }`; 429/503 also get `Retry-After`. */
export function sendError(res: ServerResponse, error: HttpError): void {
  const body: Record<string, unknown> = { type: 'error', code: error.code, message: error.message };
  const headers: Record<string, string> = { ...error.headers };
  if (error.retryAfterMs !== undefined) {
    body.retryAfterMs = error.retryAfterMs;
    headers['Retry-After'] = String(Math.ceil(error.retryAfterMs / 1000));
  }
  sendJson(res, error.status, body, headers);
}

/** The status a refusal code is answered with over HTTP. */
export function statusOf(code: string): number {
  switch (code) {
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'overloaded':
      return 429;
    default:
      return 400;
  }
}

/** Reads a body up to `limit` bytes; a longer one is a 413 and the rest is not read. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'bad_request', `body over ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, 'bad_request', `body over ${limit} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    // An aborted upload ends with 'close' and no 'end'; without this the handler would wait forever.
    req.on('close', () => {
      if (!ended) reject(new HttpError(400, 'bad_request', 'request aborted'));
    });
  });
}

/** Reads and parses a JSON body; bad JSON is a 400. */
export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'body is not JSON');
  }
}

/** `services=a,b` → `['a', 'b']`; absent → `[]`. Bad names are a 400. */
export function parseServicesParam(value: string | null): string[] {
  if (value === null || value === '') return [];
  const services = value.split(',').filter((s) => s.length > 0);
  for (const service of services) {
    if (!serviceNameSchema.safeParse(service).success) {
      throw new HttpError(400, 'bad_request', `invalid service name ${JSON.stringify(service)}`);
    }
  }
  return [...new Set(services)];
}

/** `propertyIds=p1,p2` → `['p1', 'p2']`; absent → `null` (every property). */
export function parsePropertyIdsParam(value: string | null): string[] | null {
  if (value === null) return null;
  return value.split(',').filter((s) => s.length > 0);
}

/** `cursor=<base64url JSON>`; absent → undefined, undecodable → 400. */
export function parseCursorParam(value: string | null): Cursor | undefined {
  if (value === null || value === '') return undefined;
  const cursor = decodeCursor(value);
  if (!cursor) {
    throw new HttpError(
      400,
      'bad_request',
      `cursor is not a base64url JSON cursor of at most ${MAX_CURSOR_LENGTH} characters`,
    );
  }
  return cursor;
}

/** The `Origin` header, if any (the quota key). */
export function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin.length > 0 ? origin : undefined;
}

/** The caller of an HTTP request, from its bearer token; 401/403 otherwise. */
export function requireIdentity(
  req: IncomingMessage,
  authenticate: (token: string | undefined) => AuthResult,
): { identity: TokenIdentity; token: string | undefined; expiresAt: number | undefined } {
  const token = readBearer(req.headers.authorization);
  const result = authenticate(token);
  if (!result.ok) {
    const message = result.code === 'forbidden' ? 'access forbidden' : 'missing, unknown or expired token';
    throw new HttpError(statusOf(result.code), result.code, message);
  }
  return { identity: result.identity, token, expiresAt: result.expiresAt };
}

/** Splits a raw request target into path and query without resolving it against any host. */
export function splitTarget(target: string | undefined): { pathname: string; query: URLSearchParams } {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  const pathname = q === -1 ? raw : raw.slice(0, q);
  if (!pathname.startsWith('/')) throw new HttpError(400, 'bad_request', 'request target must be a path');
  return { pathname, query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) };
}
