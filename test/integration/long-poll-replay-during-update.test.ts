import { afterEach, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devserver/index';
import { createFakeBrowser, type FakeBrowser } from '../../src/testing/fake-browser';
import { longPollTransport } from '../../src/transports/builtins';
import { record, sleep, until } from './devserver-helpers';

// A follower back from the back/forward cache widens the union (the leader's
// filter is `p1`, the follower's none): the leader POSTs /update-services,
// and the follower asks it for a replay from its cursor. Over long-poll the
// replay was polled while the POST was in flight, still with the narrower
// `propertyIds` (which the dev server also took back as the subscription):
// its answer started at the follower's cursor, so the floor was done with
// and every tab's cursor moved past the `p2` event the follower missed. It
// was lost for good, with no gap and no resync.

const ORG = 'org_lp_replay_during_update';
const WAIT_SECONDS = 8;
let server: DevServer | undefined;
let browser: FakeBrowser | undefined;
let release: (() => void) | undefined;

afterEach(async () => {
  release?.();
  await browser?.close();
  await server?.close();
  browser = server = release = undefined;
});

/**
 * A dev server and a fake browser over long-poll whose update answers reach
 * the client only once released (the server has applied the update, the
 * POST is still in flight for the client).
 */
async function setup() {
  const dev = await startDevServer({ batchWindowMs: { min: 1, max: 5 }, pollWaitSeconds: WAIT_SECONDS });
  server = dev;
  let held: Promise<void> | undefined;
  const fetchHoldingUpdates: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (held && String(input).includes('/update-services')) await held;
    return response;
  };
  browser = createFakeBrowser({
    defaults: {
      url: dev.url,
      scope: { orgId: ORG, userId: 'u_1' },
      transports: [longPollTransport({ waitSeconds: WAIT_SECONDS, fetch: fetchHoldingUpdates })],
      auth: { getToken: () => dev.issueToken(ORG, 'u_1') },
    },
  });
  return {
    browser,
    publish: (propertyId: string) =>
      dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated', propertyId }),
    serverFilter: () => JSON.stringify(dev.connections().find((c) => c.orgId === ORG)?.propertyIds),
    holdUpdates: () => {
      held = new Promise((resolve) => {
        release = resolve;
      });
    },
    releaseUpdates: () => {
      release?.();
      held = undefined;
    },
  };
}

const page = (type: 'pagehide' | 'pageshow') => Object.assign(new Event(type), { persisted: true });

describe('a replay asked while a long-poll update is in flight', () => {
  it('brings the events of the widened filter the follower missed', async () => {
    const { browser, publish, serverFilter, holdUpdates, releaseUpdates } = await setup();
    const leader = browser.tab();
    leader.setPropertyFilter('p1');
    const leaderSeqs = record(leader);
    await until(() => leader.getState().status === 'connected', 5000, 'leader connected');
    const follower = browser.tab();
    const followerSeqs = record(follower);
    await until(() => follower.getState().status === 'connected', 5000, 'follower connected');
    await until(() => serverFilter() === 'null', 5000, 'the union widened to every property');
    publish('p1');
    await until(() => followerSeqs.length === 1 && leaderSeqs.length === 1, 5000, 'seq 1 everywhere');

    // Away, the follower leaves the union: the server filters `p2` out.
    browser.windowOf(follower).dispatchEvent(page('pagehide'));
    await until(() => serverFilter() === '["p1"]', 5000, 'the union narrowed to p1');
    publish('p2');
    publish('p1');
    await until(() => leaderSeqs.length === 2, 5000, 'the leader has seq 3');
    expect(leaderSeqs).toEqual([1, 3]);
    await sleep(300);

    // Back: the union widens (the update's answer is held), and the follower,
    // behind the leader, asks for a replay from seq 1.
    holdUpdates();
    browser.windowOf(follower).dispatchEvent(page('pageshow'));
    await until(() => followerSeqs.includes(3), 3000, 'the replay reached the follower');
    releaseUpdates();

    publish('p2');
    await until(() => followerSeqs.includes(4), 5000, 'seq 4 reached the follower');
    await sleep(200);
    expect(followerSeqs).toEqual([1, 2, 3, 4]);
    expect(leaderSeqs).toEqual([1, 3]);
  });

  // The widening update waits for the one in flight, whose filter (not the
  // widened one) the replay's poll used.
  it('brings them too when the widening update waits for another one in flight', async () => {
    const { browser, publish, serverFilter, holdUpdates, releaseUpdates } = await setup();
    const leader = browser.tab();
    leader.setPropertyFilter('p1');
    record(leader);
    await until(() => leader.getState().status === 'connected', 5000, 'leader connected');
    const other = browser.tab();
    other.setPropertyFilter('p3');
    record(other);
    const follower = browser.tab();
    const followerSeqs = record(follower);
    await until(
      () => other.getState().status === 'connected' && follower.getState().status === 'connected',
      5000,
      'followers connected',
    );
    await until(() => serverFilter() === 'null', 5000, 'the union widened to every property');
    publish('p1');
    await until(() => followerSeqs.length === 1, 5000, 'seq 1 reached the follower');

    browser.windowOf(follower).dispatchEvent(page('pagehide'));
    await until(() => serverFilter() === '["p1","p3"]', 5000, 'the union narrowed');
    publish('p2');
    publish('p1');
    await until(() => leader.getState().cursor.tasks === 3, 5000, 'the leader has seq 3');
    await sleep(300);

    // An update narrowing the union further is in flight (its answer held)
    // when the follower comes back.
    holdUpdates();
    other.setPropertyFilter('p1');
    await until(() => serverFilter() === '["p1"]', 5000, 'the narrowing update applied');
    browser.windowOf(follower).dispatchEvent(page('pageshow'));
    await until(() => followerSeqs.includes(3), 3000, 'the replay reached the follower');
    releaseUpdates();

    publish('p2');
    await until(() => followerSeqs.includes(4), 5000, 'seq 4 reached the follower');
    await sleep(200);
    expect(followerSeqs).toEqual([1, 2, 3, 4]);
  });
});
