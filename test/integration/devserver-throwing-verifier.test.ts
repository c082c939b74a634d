import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { isType, openWsStream, poll } from './devserver-helpers';

// `verifyToken` is the app's code and may throw (a token it cannot parse).
// Over HTTP that is a 500, a transient failure. Over WebSocket the hello's
// timer is already cleared when the verifier runs: the socket must still get
// an answer and be closed, not stay open with no stream and no timer.
describe('dev server with a verifyToken that throws', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('WebSocket: the hello gets error server_error and close 1011; HTTP gets 500', async () => {
    server = await startDevServer({
      helloTimeoutMs: 200,
      verifyToken: (token) => {
        if (token === 'boom') throw new Error('cannot read token');
        return { orgId: 'org_v', userId: 'u_1' };
      },
    });
    const ws = await openWsStream(server.url, { token: 'boom', services: ['tasks'] });
    const error = await ws.frames.waitFor(isType('error'), 2000, 'error frame');
    expect(error).toMatchObject({ type: 'error', code: 'server_error' });
    const closed = await Promise.race([
      ws.closed,
      new Promise<'open'>((r) => setTimeout(() => r('open'), 2000)),
    ]);
    expect(closed).toMatchObject({ code: 1011 });
    expect(server.connections()).toEqual([]);

    expect((await poll(server.url, { token: 'boom', services: ['tasks'] })).status).toBe(500);
    // Other tokens are unaffected.
    const good = await openWsStream(server.url, { token: 'fine', services: ['tasks'] });
    expect(await good.frames.waitFor(isType('welcome'))).toMatchObject({ cursor: { tasks: 0 } });
    good.ws.close();
  });
});
