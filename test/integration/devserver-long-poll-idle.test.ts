import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { devToken, isType, poll, sleep, until } from './devserver-helpers';

// docs/protocol.md: "An unpolled connection is dropped after 60 s", and
// faults.dropConnections() keeps long-poll connections known "so the next
// poll with its connectionId carries on". A client that never polls again
// (it closed, or fell back to another transport) must still be forgotten.
describe('dev server long-poll idle expiry after a cut poll', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A long-poll connection of `orgId` whose waiting poll `dropConnections()` cut; resolves with its id. */
  async function cutWaitingPoll(started: DevServer, orgId: string): Promise<string> {
    const token = devToken(orgId);
    const opening = await poll(started.url, { token, services: ['tasks'] });
    const welcome = opening.frames.find(isType('welcome'));
    if (!welcome) throw new Error('no welcome');
    const waiting = poll(started.url, { token, connectionId: welcome.connectionId, wait: 10 }).catch(
      (error: unknown) => error,
    );
    await until(() => started.metrics().pollWaiters === 1, 3000, 'the poll to wait');
    started.faults.dropConnections();
    expect(await waiting).toBeInstanceOf(Error); // the socket was cut
    return welcome.connectionId;
  }

  it('forgets a connection whose waiting poll dropConnections() cut, once it stays unpolled', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 }, pollIdleTimeoutMs: 200 });
    const connectionId = await cutWaitingPoll(server, 'org_idle');
    expect(server.connections().map((c) => c.connectionId)).toEqual([connectionId]);

    await until(() => server?.connections().length === 0, 3000, 'the unpolled connection to be forgotten');
    expect(server.metrics()).toMatchObject({ activeConnections: 0, pollWaiters: 0 });
  });

  it('a poll soon after the cut still carries on with the same connection', async () => {
    server = await startDevServer({ batchWindowMs: { min: 5, max: 10 }, pollIdleTimeoutMs: 500 });
    const connectionId = await cutWaitingPoll(server, 'org_idle2');
    await sleep(50);
    server.publish('org_idle2', { service: 'tasks', entityType: 'task', type: 'x' });
    const next = await poll(server.url, { token: devToken('org_idle2'), connectionId, wait: 2 });
    expect(next.frames.some(isType('welcome'))).toBe(false);
    expect(next.frames.find(isType('batch'))).toMatchObject({ after: { tasks: 0 }, cursor: { tasks: 1 } });
  });
});
