/**
 * The takeover bench's dev server, in a worker thread of the bench process
 * (started by bench/takeover-server.ts): its event loop is its own, so
 * Playwright's work on the bench's thread does not delay its welcomes.
 *
 * Each welcome is stamped on this thread's clock the moment the server sends
 * it and posted to the bench; calls (publish, metrics, connections, now,
 * close) are answered by id.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type DevServer, startDevServer } from '../src/devserver/index';
import type { ServerCalls, ServerMessage, ServerRequest, ServerThreadOptions } from './takeover-server';

const port = parentPort;
if (port === null) throw new Error('takeover-server.worker runs as a worker thread only');

/** The clock the bench and the pages use too. */
const wallNow = () => performance.timeOrigin + performance.now();

const post = (message: ServerMessage) => port.postMessage(message);

/**
 * The dev server logs `open <transport> <connectionId> org=<orgId> …` right
 * after it wrote a WebSocket or SSE connection's `welcome` (src/devserver/hub.ts;
 * a long-poll answer, or one under a fault delay, is written later, and this
 * bench uses neither), and has no other hook for it: that line is the stamp.
 */
const OPEN_LINE = /^open \S+ (\S+) org=(\S+)/;

function stampWelcome(line: string): void {
  const at = wallNow();
  const match = OPEN_LINE.exec(line);
  if (match !== null) post({ kind: 'welcome', connectionId: match[1]!, orgId: match[2]!, at });
}

const server: DevServer = await startDevServer({
  ...(workerData as ServerThreadOptions),
  log: stampWelcome,
});

type Handlers = {
  [K in keyof ServerCalls]: (args: ServerCalls[K]['args']) => Promise<ServerCalls[K]['result']>;
};

const handlers: Handlers = {
  publish: async ({ orgId, events }) => {
    let seq = 0;
    for (const event of events) seq = server.publish(orgId, event).seq;
    return seq;
  },
  metrics: async () => server.metrics(),
  connections: async () => server.connections(),
  now: async () => wallNow(),
  close: async () => {
    await server.close();
    return null;
  },
};

port.on('message', (request: ServerRequest) => {
  // Each request's args match its call (ServerRequest pairs them); the map loses that pairing.
  const handle = handlers[request.call] as (args: ServerRequest['args']) => Promise<unknown>;
  handle(request.args).then(
    (value) => post({ kind: 'reply', id: request.id, value }),
    (error: unknown) =>
      post({
        kind: 'failed',
        id: request.id,
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});

post({ kind: 'ready', origin: server.origin });
