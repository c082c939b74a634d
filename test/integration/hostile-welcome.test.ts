import { afterEach, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { Transport, TransportContext } from '../../src/transports/types';
import { sleep, until } from './devserver-helpers';

// A `welcome` whose `heartbeatMs` is a valid positive
// integer (the protocol sets no upper bound) but longer than a timer can
// time made the heartbeat watchdog throw a RangeError inside the connection
// loop's frame handler, half way through acting on the welcome. Over
// WebSocket the attempt then failed and retried forever; over a stream whose
// welcome comes after `connect` (SSE) the RangeError was thrown into the
// transport's callback and the client stayed `connecting`.

const HUGE = 2 ** 40;
const clients: RealtimeClient[] = [];
const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  for (const wss of servers.splice(0)) wss.close();
});

function client(url: string, transports: Array<'websocket' | Transport>): RealtimeClient {
  const rt = createRealtime({
    url,
    transports,
    platform: { WebSocket: NodeWebSocket as never },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  return rt;
}

it('connects over a real WebSocket when the welcome asks for a heartbeat longer than a timer', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(wss);
  await new Promise((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as { port: number };
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.once('message', () => {
      ws.send(
        JSON.stringify({
          type: 'welcome',
          connectionId: 'c1',
          serverTime: Date.now(),
          heartbeatMs: HUGE,
          cursor: {},
        }),
      );
    });
  });
  const rt = client(`http://127.0.0.1:${port}/v2/realtime`, ['websocket']);
  rt.subscribe('tasks', () => {});
  await until(
    () => rt.getState().status === 'connected' || rt.getState().lastError !== undefined,
    3000,
    'connected',
  );
  expect(rt.getState().lastError).toBeUndefined();
  expect(rt.getState().status).toBe('connected');
  expect(connections).toBe(1);
});

it('does not throw into the transport when such a welcome comes after connect resolved', async () => {
  let ctx: TransportContext | undefined;
  const transport: Transport = {
    name: 'stream',
    async connect(context) {
      ctx = context;
      return { async update() {}, close() {} };
    },
  };
  const rt = client('http://127.0.0.1:1/v2/realtime', [transport]);
  rt.subscribe('tasks', () => {});
  await until(() => ctx !== undefined, 3000, 'connect');
  await sleep(5); // connect's promise has resolved
  const welcome = {
    type: 'welcome',
    connectionId: 'c1',
    serverTime: Date.now(),
    heartbeatMs: HUGE,
    cursor: {},
  };
  expect(() => ctx!.onFrame(JSON.stringify(welcome))).not.toThrow();
  expect(rt.getState().status).toBe('connected');
});
