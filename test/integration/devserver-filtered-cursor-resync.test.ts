import { expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { closingAfterEach, devClient, record, sleep, until } from './devserver-helpers';

// PROTOCOL.md: the cursor counts what the client "received, or known to be
// filtered out for this subscription", and a `reset` is for a server that
// "cannot replay from the client's cursor". The dev server sent a filtered
// connection nothing while every new event was for other properties, so the
// client's cursor stayed at the last event it saw. Once the replay buffer had
// moved past that seq (a busy org, a tab on one quiet property), the next
// poll (long-poll) or the next reconnect (SSE, WebSocket) was answered with
// `reset buffer_expired`: the app re-fetched its snapshot though it had missed
// nothing, and over long-poll again every time the buffer wrapped.

const ORG = 'org_filtered_cursor';
const closing = closingAfterEach();

for (const transport of ['long-poll', 'sse', 'websocket'] as const) {
  it(`${transport}: events of other properties that outrun the buffer cause no resync`, async () => {
    const dev = await startDevServer({
      replayBufferSize: 8,
      heartbeatMs: 500,
      batchWindowMs: { min: 1, max: 5 },
      pollWaitSeconds: 1,
    });
    closing(dev);
    const publish = (propertyId: string) =>
      dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated', propertyId });
    const client = devClient(dev.url, ORG, transport);
    closing(client);
    client.setPropertyFilter('p1');
    const seqs = record(client);
    let resyncs = 0;
    client.on('resync', () => resyncs++);
    await until(() => client.getState().status === 'connected', 5000, 'connected');
    publish('p1');
    await until(() => seqs.length === 1, 5000, 'the first event');

    // Three buffers' worth of events this subscription filters out, in several flushes.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 4; i++) publish('p2');
      await sleep(30);
    }
    // A few polls; for the streams, a reconnect with the client's cursor.
    await sleep(1200);
    if (transport !== 'long-poll') {
      const welcomes = client.getState().counters.reconnects;
      dev.faults.dropConnections();
      await until(() => client.getState().counters.reconnects > welcomes, 5000, 'the reconnect');
      await sleep(200);
    }
    expect(resyncs).toBe(0);

    publish('p1');
    await until(() => seqs.length === 2, 5000, 'the second event');
    expect(seqs).toEqual([1, 26]);
    expect(resyncs).toBe(0);
  });
}
