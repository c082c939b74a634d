import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver';
import { poll } from './devserver-helpers';

// The test measures the heap, so it needs a real collection before each reading.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// A dev server runs for hours in CI and issues a token per test (or per
// reconnect of a test client): what it keeps for them must not grow with
// every token it ever issued.
describe('dev server issued tokens', () => {
  let server: DevServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('are not kept once issued: 100k expired tokens leave the heap as it was', async () => {
    let now = 1_000_000;
    server = await startDevServer({ wallClock: () => now });
    const early = server.issueToken('org_mem', 'u_early');
    const before = heapAfterGc();
    for (let i = 0; i < 100_000; i++) server.issueToken('org_mem', `user_${i}`, { ttlMs: 1000 });
    for (let i = 0; i < 100_000; i++) server.issueToken('org_mem', `other_${i}`);
    server.faults.expireTokens();
    now += 2000;
    const grown = heapAfterGc() - before;
    expect(grown).toBeLessThan(4 * 1024 * 1024);

    // What the tokens do is unchanged: expired ones are refused, new ones work.
    expect((await poll(server.url, { token: early.token, services: ['tasks'] })).status).toBe(401);
    const timed = server.issueToken('org_mem', 'u_timed', { ttlMs: 500 });
    const fresh = await poll(server.url, { token: timed.token, services: ['tasks'] });
    expect(fresh.status).toBe(200);
    expect(fresh.frames[0]).toMatchObject({ type: 'welcome' });
    expect(server.connections()).toMatchObject([{ orgId: 'org_mem', userId: 'u_timed' }]);
    now += 500;
    expect((await poll(server.url, { token: timed.token, services: ['tasks'] })).status).toBe(401);
  });
});
