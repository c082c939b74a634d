import { afterEach, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import { RealtimeError } from '../../../src/errors';
import type { Transport } from '../../../src/transports/types';

// After a 401, a refresh, and a second 401 in a row,
// the loop kept the token the server had just refused. Every later attempt
// connected with it again (a token without `expiresAt` is cached until a
// 401 invalidates it), so `getToken` was never asked again and the client
// stayed refused even once the app's token source had a good token.
// docs/options.md: getToken is called "after a 401".

const clients: RealtimeClient[] = [];
afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
});

it('asks getToken again after a second 401 in a row, and connects once the token is good', async () => {
  // The app's token source still hands out the expired token for a moment.
  const tokens = ['expired', 'expired', 'fresh'];
  const getToken = vi.fn(() => tokens.shift() ?? 'fresh');
  const tried: Array<string | undefined> = [];
  const transport: Transport = {
    name: 'strict',
    async connect(ctx) {
      tried.push(ctx.token);
      if (ctx.token !== 'fresh') throw new RealtimeError('unauthorized', 'bad token', { status: 401 });
      queueMicrotask(() =>
        ctx.onFrame({
          type: 'welcome',
          connectionId: 'c1',
          serverTime: Date.now(),
          heartbeatMs: 60_000,
          cursor: {},
        }),
      );
      return { async update() {}, close() {} };
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [transport],
    auth: { getToken },
    backoff: { baseMs: 5, capMs: 10 },
    circuit: { failureThreshold: 10, cooldownMs: 10 },
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  clients.push(rt);
  rt.subscribe('tasks', () => {});
  await vi.waitFor(() => expect(rt.getState().status).toBe('connected'), { timeout: 2000 });
  expect(tried).toEqual(['expired', 'expired', 'fresh']);
  expect(getToken).toHaveBeenCalledTimes(3);
});
