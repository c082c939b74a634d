import { loadWebSocketServer } from './load-ws';
import { resolveDevServerOptions } from './options';
import { DevServerInstance } from './server';
import type { DevServer, DevServerOptions } from './types';

export { MISSING_WS_MESSAGE } from './load-ws';
export type {
  DevConnectionInfo,
  DevServer,
  DevServerFaults,
  DevServerMetrics,
  DevServerOptions,
  PublishInput,
  TokenIdentity,
  TokenVerifier,
} from './types';

/**
 * Starts the reference backend of PROTOCOL.md on 127.0.0.1 (Node only): SSE,
 * WebSocket and long-poll streams with replay, adaptive batching, quotas,
 * slow-consumer quarantine and fault hooks for tests. Needs the optional peer
 * dependency `ws`. Options are validated first: a bad one is a `RangeError`
 * naming the field.
 *
 * ```ts
 * const server = await startDevServer({ heartbeatMs: 1000 });
 * const { token } = server.issueToken('org_1', 'u_1');
 * server.publish('org_1', { service: 'tasks', entityType: 'task', type: 'task.created', data: {} });
 * await server.close();
 * ```
 */
export async function startDevServer(options?: DevServerOptions): Promise<DevServer> {
  const resolved = resolveDevServerOptions(options);
  const WebSocketServer = await loadWebSocketServer();
  const server = new DevServerInstance(resolved, WebSocketServer);
  await server.start();
  return server;
}
