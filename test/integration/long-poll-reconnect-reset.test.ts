import { expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { closingAfterEach, devClient, record, sleep, until } from './devserver-helpers';

// Long-poll's `connect` delivers the first poll's frames (welcome, and the
// catch-up: replayed batches, or a `reset` when the server cannot replay from
// the client's cursor) and starts its poll loop at once. The core acts on
// those frames only once `connect` has resolved, so the loop's first poll
// carried the core's cursor from BEFORE them. After a reconnect that the
// server answers with a `reset` (a restart with a new epoch, a replay buffer
// that moved on), that poll asked from the old cursor again, the server reset
// the service again, and the app got `resync` twice for one reset (a second
// snapshot refetch, for every tab). SSE and WebSocket, the control here, send
// the cursor once, at connect, and resync once.

const ORG = 'org_lp_reconnect_reset';
const closing = closingAfterEach();

for (const transport of ['long-poll', 'sse', 'websocket'] as const) {
  it(`${transport}: a reconnect answered with one reset resyncs once`, async () => {
    const dev = await startDevServer({
      heartbeatMs: 500,
      batchWindowMs: { min: 1, max: 5 },
      pollWaitSeconds: 1,
    });
    closing(dev);
    const publish = () => dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated' });
    const client = devClient(dev.url, ORG, transport);
    closing(client);
    const seqs = record(client);
    let resyncs = 0;
    client.on('resync', () => resyncs++);
    await until(() => client.getState().status === 'connected', 5000, 'connected');
    publish();
    publish();
    publish();
    await until(() => seqs.length === 3, 5000, 'three events');

    // A new epoch: the client's cursor means nothing to the server any more.
    await dev.restart({ wipe: true, downMs: 50 });
    await until(() => resyncs >= 1, 8000, 'the resync');
    // A few polls' worth of time.
    await sleep(1500);
    expect(resyncs).toBe(1);

    // Events of the new epoch still arrive, once.
    publish();
    await until(() => seqs.length === 4, 5000, 'the new epoch event');
    await sleep(100);
    expect(seqs).toEqual([1, 2, 3, 1]);
    expect(resyncs).toBe(1);
  });
}
