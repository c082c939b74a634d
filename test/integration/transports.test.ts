import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { startDevServer } from '../../src/devserver/index';
import type { DevServer } from '../../src/devserver/types';
import { parseServerFrame } from '../../src/protocol/parse';
import type { RealtimeEvent, ServerFrame, WelcomeFrame } from '../../src/protocol/schemas';
import { TransportChain } from '../../src/transports/fallback';
import { kit } from '../../src/transports/kit';
import { longPollTransport } from '../../src/transports/long-poll';
import { sseTransport } from '../../src/transports/sse';
import type {
  Transport,
  TransportCloseReason,
  TransportConnection,
  TransportContext,
} from '../../src/transports/types';
import { type WebSocketConstructorLike, websocketTransport } from '../../src/transports/websocket';
import { sleep, until } from './devserver-helpers';

// Node 20 has no global WebSocket: `ws`'s is injected, as an app on Node would.
const WebSocketClass: WebSocketConstructorLike = NodeWebSocket;

const FACTORIES: Record<'websocket' | 'sse' | 'long-poll', () => Transport> = {
  websocket: () => websocketTransport({ WebSocket: WebSocketClass }, kit),
  sse: () => sseTransport({ fetch }, kit),
  // A short wait keeps idle polls cycling quickly without changing what is tested.
  'long-poll': () => longPollTransport({ fetch, waitSeconds: 2 }, kit),
};

let server: DevServer;
let orgCounter = 0;
const open: TransportConnection[] = [];
const aborts: AbortController[] = [];

beforeAll(async () => {
  server = await startDevServer({ batchWindowMs: { min: 1, max: 5 }, heartbeatMs: 60_000 });
});

afterEach(() => {
  for (const connection of open.splice(0)) connection.close();
  for (const abort of aborts.splice(0)) abort.abort();
  server.faults.refuseWebSocket(false);
});

afterAll(async () => {
  await server?.close();
});

/** What one connection received, parsed for the assertions (the transport itself passes raw frames). */
interface Received {
  raw: Array<string | object>;
  frames: ServerFrame[];
  closes: TransportCloseReason[];
  events(service?: string): RealtimeEvent[];
  welcome(): WelcomeFrame | undefined;
}

function context(overrides: Partial<TransportContext> & { orgId: string }): {
  ctx: TransportContext;
  received: Received;
} {
  const abort = new AbortController();
  aborts.push(abort);
  const raw: Array<string | object> = [];
  const frames: ServerFrame[] = [];
  const closes: TransportCloseReason[] = [];
  const received: Received = {
    raw,
    frames,
    closes,
    events: (service) =>
      frames
        .flatMap((f) => (f.type === 'batch' ? f.events : []))
        .filter((e) => !service || e.service === service),
    welcome: () => frames.find((f): f is WelcomeFrame => f.type === 'welcome'),
  };
  const { orgId, ...rest } = overrides;
  const ctx: TransportContext = {
    url: server.url,
    token: server.issueToken(orgId, 'u_1').token,
    services: ['tasks'],
    propertyIds: null,
    cursor: {},
    onFrame: (frame) => {
      raw.push(frame);
      const parsed = parseServerFrame(frame);
      if (parsed.ok) frames.push(parsed.frame);
    },
    onClose: (reason) => closes.push(reason),
    signal: abort.signal,
    ...rest,
  };
  return { ctx, received };
}

function newOrg(): string {
  return `org_it_${++orgCounter}`;
}

function publish(orgId: string, service: string, n: number): void {
  for (let i = 0; i < n; i++) {
    server.publish(orgId, { service, entityType: 'task', type: `${service}.updated`, data: { i } });
  }
}

async function connect(transport: Transport, ctx: TransportContext): Promise<TransportConnection> {
  const connection = await transport.connect(ctx);
  open.push(connection);
  return connection;
}

describe.each(Object.keys(FACTORIES) as Array<keyof typeof FACTORIES>)(
  '%s against the dev server',
  (name) => {
    const make = FACTORIES[name];

    it('connects, receives welcome first, then published events in order', async () => {
      const orgId = newOrg();
      const { ctx, received } = context({ orgId });
      await connect(make(), ctx);
      await until(() => received.welcome() !== undefined, 5000, 'welcome');
      expect(received.frames[0]?.type).toBe('welcome');

      publish(orgId, 'tasks', 5);
      await until(() => received.events('tasks').length >= 5, 5000, '5 events');
      expect(received.events('tasks').map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(received.events('tasks').map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
      expect(received.closes).toEqual([]);
    });

    it('updates the subscription in place: same connection, and the new service arrives', async () => {
      const orgId = newOrg();
      const { ctx, received } = context({ orgId });
      const connection = await connect(make(), ctx);
      await until(() => received.welcome() !== undefined, 5000, 'welcome');
      const connectionId = received.welcome()!.connectionId;

      const result = await connection.update(['tasks', 'crm'], null);
      if (name !== 'websocket') expect(result).toEqual({ cursor: { crm: 0 } });

      await until(
        () => server.connections().some((c) => c.connectionId === connectionId && c.services.includes('crm')),
        5000,
        'the server to apply the update',
      );
      const mine = server.connections().filter((c) => c.orgId === orgId);
      expect(mine.map((c) => c.connectionId)).toEqual([connectionId]);
      expect(mine[0]?.transport).toBe(name);

      publish(orgId, 'crm', 2);
      publish(orgId, 'tasks', 1);
      await until(
        () => received.events('crm').length >= 2 && received.events('tasks').length >= 1,
        5000,
        'crm events',
      );
      expect(received.events('crm').map((e) => e.seq)).toEqual([1, 2]);
      expect(received.frames.filter((f) => f.type === 'welcome')).toHaveLength(1);
    });

    it('rejects connect with unauthorized 401 for a bad token', async () => {
      const { ctx } = context({ orgId: newOrg(), token: 'not-a-token' });
      await expect(make().connect(ctx)).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    });

    it('rejects connect with forbidden 403 for a revoked user', async () => {
      const orgId = newOrg();
      const { ctx } = context({ orgId });
      server.faults.revokeUser(orgId, 'u_1');
      await expect(make().connect(ctx)).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    });

    it('passes a malformed frame to onFrame as text, and the connection lives on', async () => {
      const orgId = newOrg();
      const { ctx, received } = context({ orgId });
      await connect(make(), ctx);
      await until(() => received.welcome() !== undefined, 5000, 'welcome');

      server.faults.sendRaw(orgId, '{"type":"batch", broken');
      await until(() => received.raw.includes('{"type":"batch", broken'), 5000, 'the raw frame');

      publish(orgId, 'tasks', 1);
      await until(() => received.events('tasks').length === 1, 5000, 'an event after the bad frame');
      expect(received.closes).toEqual([]);
    });

    it('calls onClose when the server drops the connection', async () => {
      const orgId = newOrg();
      const { ctx, received } = context({ orgId });
      await connect(make(), ctx);
      await until(() => received.welcome() !== undefined, 5000, 'welcome');
      // Long-poll has nothing to cut until its next poll is waiting at the server.
      if (name === 'long-poll') {
        await until(
          () => server.connections().some((c) => c.orgId === orgId && c.pollWaiting === true),
          5000,
          'its poll waiting at the server',
        );
      }

      server.faults.dropConnections();
      await until(() => received.closes.length > 0, 5000, 'onClose');
      await sleep(50);
      expect(received.closes).toHaveLength(1);
    });
  },
);

describe('TransportChain against the dev server', () => {
  it('falls back to SSE when WebSocket upgrades are refused', async () => {
    server.faults.refuseWebSocket(true);
    const chain = new TransportChain([FACTORIES.websocket(), FACTORIES.sse()]);
    const orgId = newOrg();
    const { ctx, received } = context({ orgId });
    const connection = await chain.connect(ctx);
    open.push(connection);
    expect(chain.currentName).toBe('sse');
    await until(() => received.welcome() !== undefined, 5000, 'welcome');
    expect(server.connections().find((c) => c.orgId === orgId)?.transport).toBe('sse');
  });

  it('uses WebSocket when upgrades pass', async () => {
    const chain = new TransportChain([FACTORIES.websocket(), FACTORIES.sse()]);
    const { ctx, received } = context({ orgId: newOrg() });
    open.push(await chain.connect(ctx));
    await until(() => received.welcome() !== undefined, 5000, 'welcome');
    expect(chain.currentName).toBe('websocket');
  });
});
