import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { poll, postJson } from './devserver-helpers';

// A request on a live connection with a token of another user (an account
// switched in a single-page app, whose token provider now returns the new
// user's token) was answered 403 `forbidden` over HTTP, which PROTOCOL.md
// has the SDK read as "stop for good": realtime was off for the rest of the
// session. Over WebSocket the same token in an `auth` frame was already
// `unauthorized` (refresh, reconnect: a new connection of the new user). The
// connection is not theirs; the user is not forbidden.
describe('dev server: a token of another user on a live connection', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('is unauthorized, not forbidden, on a poll and on update-services', async () => {
    server = await startDevServer();
    const first = await poll(server.url, { token: 'dev:org_1:u_a', services: ['tasks'] });
    expect(first.status).toBe(200);
    const connectionId = (first.frames[0] as { connectionId: string }).connectionId;

    const other = await poll(server.url, {
      token: 'dev:org_1:u_b',
      services: ['tasks'],
      connectionId,
      wait: 0,
    });
    expect(other.status).toBe(401);
    expect(other.body).toMatchObject({ type: 'error', code: 'unauthorized' });

    const update = await postJson(
      `${server.url}/update-services`,
      { connectionId, services: ['tasks', 'users'], propertyIds: null },
      'dev:org_1:u_b',
    );
    expect(update.status).toBe(401);
    expect(update.body).toMatchObject({ code: 'unauthorized' });

    // The new user's own connection works.
    const own = await poll(server.url, { token: 'dev:org_1:u_b', services: ['tasks'] });
    expect(own.status).toBe(200);
  });
});
