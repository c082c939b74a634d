import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { HttpError } from './http-util';

/** Content types of the files a demo page needs. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The directory and relative path a request path maps to, if a prefix covers it. */
function matchPrefix(
  mounts: Record<string, string>,
  pathname: string,
): { dir: string; rest: string } | undefined {
  // Longest prefix first, so `/demo/lib` wins over `/demo`.
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    const dir = mounts[prefix];
    if (dir === undefined) continue;
    if (prefix === '/') return { dir, rest: pathname };
    if (pathname === prefix || pathname.startsWith(`${prefix}/`))
      return { dir, rest: pathname.slice(prefix.length) };
  }
  return undefined;
}

/**
 * Serves a file under one of the `static` mounts (URL prefix → directory).
 * Returns false when no mount covers the path. The decoded path must stay
 * inside the mount's directory: `..` (also as `%2e%2e` or after `%2f`) is a
 * 403, never a read outside it. A directory serves its `index.html`.
 */
export async function serveStatic(
  mounts: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<boolean> {
  const match = matchPrefix(mounts, pathname);
  if (!match) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new HttpError(405, 'bad_request', 'static files answer GET and HEAD only');
  }
  let rest: string;
  try {
    rest = decodeURIComponent(match.rest);
  } catch {
    throw new HttpError(400, 'bad_request', 'bad percent-encoding in path');
  }
  if (rest.includes('\0')) throw new HttpError(400, 'bad_request', 'NUL in path');
  const root = resolve(match.dir);
  const segments = rest.split(/[\\/]+/);
  if (segments.includes('..')) throw new HttpError(403, 'forbidden', 'path leaves the static directory');
  let file = resolve(root, ...segments.filter((s) => s.length > 0));
  if (file !== root && !file.startsWith(root + sep))
    throw new HttpError(403, 'forbidden', 'path leaves the static directory');

  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) file = join(file, 'index.html');
  const body = await readFile(file).catch(() => undefined);
  if (!body) throw new HttpError(404, 'not_found', 'no such file');
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-cache',
    'Access-Control-Allow-Origin': '*',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
