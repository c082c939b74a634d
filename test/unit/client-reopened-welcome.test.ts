import { expect, it } from 'vitest';
import { createRealtime } from '../../src/index';
import type { Transport, TransportContext } from '../../src/transports/types';

// A transport may reopen its connection in place: SSE on a refreshed token
// (the stream sends its token once), long-poll when the server lost the
// connection and welcomes a new one. The server then names it with a new id,
// which getState() (and devtools, and the leader's state message) must show:
// it kept the first welcome's, naming a connection the server had closed.

const welcome = (connectionId: string) =>
  JSON.stringify({ type: 'welcome', connectionId, serverTime: Date.now(), heartbeatMs: 60_000, cursor: {} });

it('shows the id of a later welcome on the live connection, with no reconnect', async () => {
  let ctx: TransportContext | undefined;
  const transport: Transport = {
    name: 'reopening',
    async connect(context) {
      ctx = context;
      queueMicrotask(() => context.onFrame(welcome('c1')));
      return { async update() {}, close() {} };
    },
  };
  const rt = createRealtime({
    url: 'http://127.0.0.1:9/rt',
    transports: [transport],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
  });
  try {
    rt.subscribe('tasks', () => {});
    for (let i = 0; i < 50 && rt.getState().status !== 'connected'; i++)
      await new Promise((r) => setTimeout(r, 1));
    expect(rt.getState()).toMatchObject({ status: 'connected', connectionId: 'c1' });

    ctx!.onFrame(welcome('c2'));
    expect(rt.getState()).toMatchObject({ status: 'connected', connectionId: 'c2' });
    expect(rt.getState().counters).toMatchObject({ reconnects: 0, invalidFrames: 0 });
  } finally {
    await rt.close();
  }
});
