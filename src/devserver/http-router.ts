import type { IncomingMessage, ServerResponse } from 'node:http';
import { SLI_REPORT_TYPE, sliReportSchema } from '../observability/telemetry-payload';
import { updateServicesRequestSchema } from '../protocol/schemas';
import {
  CORS_HEADERS,
  HttpError,
  readBody,
  readJsonBody,
  requireIdentity,
  sendEmpty,
  sendError,
  sendJson,
  splitTarget,
} from './http-util';
import type { RealtimeHub } from './hub';
import { handlePoll } from './long-poll';
import { publishRequestSchema, tokenRequestSchema } from './publish-input';
import { handleSseStream } from './sse';
import { serveStatic } from './static-files';
import { keepTelemetry, MAX_TELEMETRY_BYTES, telemetryReportSchema, unreadableSketch } from './telemetry';

type Route = (
  hub: RealtimeHub,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
) => Promise<void>;

function invalidBody(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): HttpError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
  return new HttpError(400, 'bad_request', `${where}${issue?.message ?? 'invalid body'}`);
}

async function answerJson(
  hub: RealtimeHub,
  res: ServerResponse,
  status: number,
  body: unknown,
): Promise<void> {
  await hub.delayAnswer();
  sendJson(res, status, body);
}

const updateServices: Route = async (hub, req, res) => {
  const { identity } = requireIdentity(req, (token) => hub.authenticate(token));
  const parsed = updateServicesRequestSchema.safeParse(await readJsonBody(req));
  if (!parsed.success) throw invalidBody(parsed.error);
  const { connectionId, services, propertyIds } = parsed.data;
  const connection = hub.registry.get(connectionId);
  if (!connection) throw new HttpError(404, 'not_found', `no live connection ${connectionId}`);
  if (connection.orgId !== identity.orgId || connection.userId !== identity.userId) {
    throw new HttpError(401, 'unauthorized', 'token belongs to another user');
  }
  const cursor = hub.updateSubscription(connection, services, propertyIds);
  await answerJson(hub, res, 200, { cursor });
};

// Answers 413 for a body over 64 KiB (not 400: the report may be fine, only too big).
const telemetry: Route = async (hub, req, res) => {
  const body = await readBody(req, MAX_TELEMETRY_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'telemetry body is not JSON');
  }
  const parsed = telemetryReportSchema.safeParse(value);
  if (!parsed.success) throw invalidBody(parsed.error);
  // Any report with a string type is kept; an SLI report must also be one.
  if (parsed.data.type === SLI_REPORT_TYPE) {
    const report = sliReportSchema.safeParse(value);
    if (!report.success) throw invalidBody(report.error);
    const unreadable = unreadableSketch(report.data);
    if (unreadable) throw new HttpError(400, 'bad_request', unreadable);
  }
  keepTelemetry(hub.telemetry, value);
  await hub.delayAnswer();
  sendEmpty(res, 204);
};

const devToken: Route = async (hub, req, res) => {
  const parsed = tokenRequestSchema.safeParse(await readJsonBody(req));
  if (!parsed.success) throw invalidBody(parsed.error);
  const { orgId, userId, ttlMs } = parsed.data;
  await answerJson(hub, res, 200, hub.tokens.issue(orgId, userId, ttlMs));
};

const devPublish: Route = async (hub, req, res) => {
  const parsed = publishRequestSchema.safeParse(await readJsonBody(req));
  if (!parsed.success) throw invalidBody(parsed.error);
  await answerJson(hub, res, 200, hub.publish(parsed.data.orgId, parsed.data.event));
};

/** `METHOD path` (relative to basePath) → handler. */
const ROUTES: Record<string, Route> = {
  'GET /stream': handleSseStream,
  'GET /poll': async (hub, req, res, query) => handlePoll(hub, req, res, query),
  'POST /update-services': updateServices,
  'POST /telemetry/client': telemetry,
  'GET /metrics': async (hub, _req, res) => answerJson(hub, res, 200, hub.metrics()),
  'GET /health': async (hub, _req, res) => answerJson(hub, res, 200, { ok: true }),
  'POST /dev/token': devToken,
  'POST /dev/publish': devPublish,
};

/**
 * Paths whose GET is also served as HEAD (the same answer, which Node sends
 * without its body): the read-only ones. HEAD of `/stream` or `/poll` would
 * open a connection, so those answer 405.
 */
const HEAD_AS_GET = new Set(['/metrics', '/health']);

/** Path → the `Allow` header of its 405: the methods it serves, and OPTIONS. */
const ALLOWED_METHODS = new Map<string, string>();
for (const key of Object.keys(ROUTES)) {
  const [method = '', path = ''] = key.split(' ');
  const served = method === 'GET' && HEAD_AS_GET.has(path) ? 'GET, HEAD' : method;
  const before = ALLOWED_METHODS.get(path);
  ALLOWED_METHODS.set(path, before === undefined ? served : `${before}, ${served}`);
}
for (const [path, methods] of ALLOWED_METHODS) ALLOWED_METHODS.set(path, `${methods}, OPTIONS`);

async function route(hub: RealtimeHub, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { pathname, query } = splitTarget(req.url);
  const { basePath } = hub.options;
  const underBase = pathname === basePath || pathname.startsWith(`${basePath}/`);
  // `/telemetry/client` also answers at the root, where a page's default telemetry URL points.
  const path = underBase
    ? pathname.slice(basePath.length)
    : pathname === '/telemetry/client'
      ? pathname
      : undefined;
  if (path !== undefined) {
    if (req.method === 'OPTIONS') {
      sendEmpty(res, 204, { ...CORS_HEADERS });
      return;
    }
    const method = req.method === 'HEAD' && HEAD_AS_GET.has(path) ? 'GET' : (req.method ?? 'GET');
    const handler = ROUTES[`${method} ${path}`];
    if (handler) {
      await handler(hub, req, res, query);
      return;
    }
    const allow = ALLOWED_METHODS.get(path);
    if (allow !== undefined)
      throw new HttpError(405, 'bad_request', `${req.method} not allowed on ${path}`, undefined, {
        Allow: allow,
      });
  }
  if (await serveStatic(hub.options.static, req, res, pathname)) return;
  throw new HttpError(404, 'not_found', `nothing at ${pathname}`);
}

/**
 * The http server's `request` listener. Nothing a client sends may take the
 * server down: every failure becomes an HTTP answer (4xx for bad input, 500
 * for a bug here), or a destroyed socket when the answer had already begun.
 */
export function createRequestHandler(hub: RealtimeHub): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    hub.counters.requestsTotal++;
    route(hub, req, res)
      .catch(async (error: unknown) => {
        if (!(error instanceof HttpError) && !(error instanceof RangeError)) {
          hub.options.log(
            `request ${req.method} ${req.url} failed: ${error instanceof Error ? error.stack : String(error)}`,
          );
        }
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const httpError =
          error instanceof HttpError
            ? error
            : error instanceof RangeError
              ? new HttpError(400, 'bad_request', error.message)
              : new HttpError(500, 'server_error', 'internal error');
        await hub.delayAnswer();
        sendError(res, httpError);
      })
      .catch(() => res.destroy());
  };
}
