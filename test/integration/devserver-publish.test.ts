import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { devToken, eventsOf, isType, openWsStream, postJson, sleep, task } from './devserver-helpers';

// An event the server cannot write as JSON must be refused when it is
// published. Stored, it breaks every later flush and replay of its service:
// the flush timer throws (an uncaught exception that ends a standalone dev
// server), and subscribers never see the events around it.
describe('dev server publish of data that is not JSON-serialisable', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('POST /dev/publish with data nested too deep to serialise is a 400 and publishes nothing', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const ws = await openWsStream(server.url, { token: devToken('org_deep'), services: ['tasks'] });
    await ws.frames.waitFor(isType('welcome'));

    const depth = 100_000;
    const body = `{"orgId":"org_deep","event":{"service":"tasks","entityType":"task","type":"x","data":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const answer = await postJson(`${server.url}/dev/publish`, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ type: 'error', code: 'bad_request' });
    await sleep(50); // a flush window: nothing may go out, nothing may throw

    const next = server.publish('org_deep', task());
    expect(next.seq).toBe(1);
    const batch = await ws.frames.waitFor(isType('batch'));
    expect(batch).toMatchObject({ after: { tasks: 0 }, cursor: { tasks: 1 } });
    expect(eventsOf(ws.frames.items).map((e) => e.seq)).toEqual([1]);
    ws.ws.close();
  });

  it('publish() refuses circular or BigInt data with a RangeError naming event.data', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const circular: Record<string, unknown> = { id: 't_1' };
    circular.self = circular;
    expect(() => server?.publish('org_c', task({ data: circular }))).toThrow(RangeError);
    expect(() => server?.publish('org_c', task({ data: { n: 10n } }))).toThrow(/event\.data/);
    await sleep(50);
    expect(server.publish('org_c', task()).seq).toBe(1);
    expect(server.metrics().publishedTotal).toBe(1);
  });
});
