import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { devToken, isType, openWsStream, postJson, sleep } from './devserver-helpers';

// `batchWindowMsByOrg` is keyed by org id, and an org id is whatever a client
// puts in a `dev:<orgId>:<userId>` token or a `POST /dev/publish` body.
describe('dev server metrics with hostile org ids', () => {
  let server: DevServer | undefined;
  const polluted = () => Object.getOwnPropertyNames(Object.prototype).filter((k) => k === 'tasks');

  afterEach(async () => {
    await server?.close();
    server = undefined;
    delete (Object.prototype as Record<string, unknown>).tasks;
    delete (Object as unknown as Record<string, unknown>).tasks;
  });

  it('an org named __proto__ never reaches Object.prototype and still shows in the metrics', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const publish = await postJson(`${server.url}/dev/publish`, {
      orgId: '__proto__',
      event: { service: 'tasks', entityType: 'task', type: 'task.created' },
    });
    expect(publish.status).toBe(200);
    await sleep(30);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const metrics = (await res.json()) as { batchWindowMsByOrg: Record<string, Record<string, number>> };

    expect(polluted()).toEqual([]);
    expect(({} as Record<string, unknown>).tasks).toBeUndefined();
    expect(Object.hasOwn(metrics.batchWindowMsByOrg, '__proto__')).toBe(true);
    const own = Object.getOwnPropertyDescriptor(server.metrics().batchWindowMsByOrg, '__proto__');
    expect(own?.value).toEqual({ tasks: expect.any(Number) });
  });

  it('an org named like an Object method is reported as an org, not written onto the method', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 } });
    const ws = await openWsStream(server.url, { token: devToken('constructor'), services: ['tasks'] });
    await ws.frames.waitFor(isType('welcome'));
    server.publish('constructor', { service: 'tasks', entityType: 'task', type: 'task.created' });
    await ws.frames.waitFor(isType('batch'));
    const byOrg = server.metrics().batchWindowMsByOrg;
    expect(Object.hasOwn(byOrg, 'constructor')).toBe(true);
    expect(byOrg.constructor).toEqual({ tasks: expect.any(Number) });
    expect((Object as unknown as Record<string, unknown>).tasks).toBeUndefined();
    ws.ws.close();
  });
});
