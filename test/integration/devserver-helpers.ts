// Test clients for the dev server: a minimal SSE reader over node:http, a
// WebSocket client over `ws`, and a long-poll helper over fetch. Every frame
// the server sends is checked against the shared frame schemas on arrival.
import { request, type Server } from 'node:http';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { encodeCursor } from '../../src/protocol/cursor';
import { parseServerFrame } from '../../src/protocol/parse';
import type { Cursor, ServerFrame } from '../../src/protocol/schemas';
import type { FakeBrowser } from '../../src/testing/fake-browser';

export const ORG = 'org_1';
export const USER = 'u_1';
export const devToken = (orgId = ORG, userId = USER): string => `dev:${orgId}:${userId}`;

/**
 * Lists whose clients and raw `node:http` servers (a test's stand-in for a
 * misbehaving backend) are closed after each test: push what a test opens.
 */
export function closeAfterEach(): { servers: Server[]; clients: RealtimeClient[] } {
  const servers: Server[] = [];
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const rt of clients.splice(0)) await rt.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  return { servers, clients };
}

/**
 * Hands back what it is given, and closes it after each test: the last
 * given first, so a tab or client closes before the dev server it uses.
 */
export function closingAfterEach(): <T extends { close(): unknown }>(thing: T) => T {
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close();
  });
  return (thing) => {
    open.push(thing);
    return thing;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One tab (no election) of `orgId` on the dev server at `url`, over one
 * transport, with the static dev token and a short backoff.
 */
export function devClient(
  url: string,
  orgId: string,
  transport: 'websocket' | 'sse' | 'long-poll',
): RealtimeClient {
  return createRealtime({
    url,
    scope: { orgId, userId: USER },
    transports: [transport],
    platform: { WebSocket: WebSocket as never },
    auth: { getToken: () => devToken(orgId) },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
    backoff: { baseMs: 10, capMs: 50 },
  });
}

/** Subscribes `rt` to `service` and returns the seqs it is handed, in order. */
export function record(rt: RealtimeClient, service = 'tasks'): number[] {
  const seqs: number[] = [];
  rt.subscribe(service, (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

/**
 * Polls `check` until it is true or `timeoutMs` passes, on the monotonic
 * clock: a wall clock that jumps (NTP on a shared machine) failed a wait
 * long before its time.
 */
export async function until(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A leader and a follower of `browser`, opened one after the other, each
 * recording `tasks` and connected (the follower through the leader).
 */
export async function connectedPair(browser: FakeBrowser) {
  const leader = browser.tab();
  const leaderSeqs = record(leader);
  await until(() => leader.getState().status === 'connected', 5000, 'leader connected');
  const follower = browser.tab();
  const followerSeqs = record(follower);
  await until(() => follower.getState().status === 'connected', 5000, 'follower connected');
  return { leader, leaderSeqs, follower, followerSeqs };
}

/** Everything a client received, with a way to wait for the next matching item. */
export class Inbox<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<{ match: (item: T) => boolean; resolve: (item: T) => void }>();

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.waiters) {
      if (waiter.match(item)) {
        this.waiters.delete(waiter);
        waiter.resolve(item);
      }
    }
  }

  /** The first item (already received or coming) that matches. */
  waitFor<S extends T>(match: (item: T) => item is S, timeoutMs?: number, what?: string): Promise<S>;
  waitFor(match: (item: T) => boolean, timeoutMs?: number, what?: string): Promise<T>;
  waitFor(match: (item: T) => boolean, timeoutMs = 3000, what = 'item'): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 800)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

export const isType =
  <K extends ServerFrame['type']>(type: K) =>
  (frame: ServerFrame): frame is Extract<ServerFrame, { type: K }> =>
    frame.type === type;

export type BatchOf = Extract<ServerFrame, { type: 'batch' }>;

/** All events of the batch frames received, in arrival order. */
export function eventsOf(
  frames: readonly ServerFrame[],
  service?: string,
): { seq: number; service: string }[] {
  return frames
    .filter(isType('batch'))
    .flatMap((b) => b.events)
    .filter((e) => service === undefined || e.service === service);
}

/** Parses a frame and fails loudly when the server sent something the client schemas reject. */
function strictFrame(input: unknown): ServerFrame {
  const result = parseServerFrame(input);
  if (!result.ok)
    throw new Error(`server sent an invalid frame (${result.reason} ${result.detail}): ${String(input)}`);
  return result.frame;
}

export interface StreamParams {
  token?: string;
  services?: string[];
  propertyIds?: string[] | null;
  cursor?: Cursor;
  headers?: Record<string, string>;
}

export function streamQuery(params: StreamParams, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  if (params.services) q.set('services', params.services.join(','));
  if (params.propertyIds) q.set('propertyIds', params.propertyIds.join(','));
  if (params.cursor) q.set('cursor', encodeCursor(params.cursor));
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

/** One SSE message as the reader split it. */
export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
}

/** A minimal SSE client over node:http, so a test can pause reading (slow consumer). */
export interface SseClient {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Body of a non-200 answer. */
  body?: string;
  messages: Inbox<SseMessage>;
  frames: Inbox<ServerFrame>;
  /** Resolves when the server ends the stream or the socket goes ('end' or 'aborted'). */
  ended: Promise<'end' | 'aborted'>;
  pause(): void;
  resume(): void;
  close(): void;
}

export function openSse(baseUrl: string, params: StreamParams): Promise<SseClient> {
  const url = new URL(`${baseUrl}/stream?${streamQuery(params)}`);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: { Accept: 'text/event-stream', ...authHeaders(params.token), ...params.headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const messages = new Inbox<SseMessage>();
      const frames = new Inbox<ServerFrame>();
      let buffer = '';
      let resolveEnded: (how: 'end' | 'aborted') => void = () => {};
      const ended = new Promise<'end' | 'aborted'>((r) => {
        resolveEnded = r;
      });
      const client: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        frames,
        ended,
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      if (client.status !== 200) {
        let body = '';
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ ...client, body }));
        return;
      }
      res.on('data', (chunk: string) => {
        buffer += chunk.replace(/\r\n?/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: SseMessage = { data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') message.event = value;
            else if (field === 'id') message.id = value;
            else if (field === 'data') data.push(value);
          }
          message.data = data.join('\n');
          messages.push(message);
          if (message.event !== undefined) frames.push(strictFrame(message.data));
        }
      });
      res.on('end', () => resolveEnded('end'));
      res.on('aborted', () => resolveEnded('aborted'));
      res.on('error', () => resolveEnded('aborted'));
      res.on('close', () => resolveEnded(res.complete ? 'end' : 'aborted'));
      resolve(client);
    });
    req.end();
  });
}

/** A WebSocket client that records every frame. */
export interface WsClient {
  ws: WebSocket;
  frames: Inbox<ServerFrame>;
  /** Text frames that were not valid protocol frames (raw fault frames). */
  rawTexts: string[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

export function openWs(baseUrl: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/stream`, { headers });
  const frames = new Inbox<ServerFrame>();
  const rawTexts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('message', (data) => {
    const text = String(data);
    const result = parseServerFrame(text);
    if (result.ok) frames.push(result.frame);
    else rawTexts.push(text);
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        rawTexts,
        closed,
        send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
      }),
    );
    ws.once('error', reject);
  });
}

/** Opens a WebSocket and says hello. */
export async function openWsStream(
  baseUrl: string,
  params: StreamParams & { origin?: string },
): Promise<WsClient> {
  const client = await openWs(baseUrl, params.origin ? { Origin: params.origin } : {});
  client.send({
    type: 'hello',
    token: params.token,
    services: params.services ?? [],
    propertyIds: params.propertyIds ?? null,
    cursor: params.cursor ?? {},
  });
  return client;
}

/** One long-poll request. */
export async function poll(
  baseUrl: string,
  params: StreamParams & { connectionId?: string; wait?: number },
): Promise<{ status: number; frames: ServerFrame[]; body: unknown; headers: Headers }> {
  const extra: Record<string, string> = {};
  if (params.connectionId) extra.connectionId = params.connectionId;
  if (params.wait !== undefined) extra.wait = String(params.wait);
  const res = await fetch(`${baseUrl}/poll?${streamQuery(params, extra)}`, {
    headers: { ...authHeaders(params.token), ...params.headers },
  });
  const text = await res.text();
  const body: unknown = text.length > 0 ? JSON.parse(text) : undefined;
  const frames =
    res.status === 200 ? ((body as { frames: unknown[] }).frames ?? []).map((f) => strictFrame(f)) : [];
  return { status: res.status, frames, body, headers: res.headers };
}

export async function postJson(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...authHeaders(token) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export const task = (extra: Record<string, unknown> = {}) => ({
  service: 'tasks',
  entityType: 'task',
  type: 'task.updated',
  data: { id: 't_1' },
  ...extra,
});
