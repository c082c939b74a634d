import { describe, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { createFakeBrowser } from '../../src/testing/fake-browser';
import { longPollTransport } from '../../src/transports/builtins';
import { closingAfterEach, connectedPair, sleep, until } from './devserver-helpers';

// A follower that missed frames asks the leader for a replay; the leader
// lowers its cursor to the follower's. Over a stream it reconnects at once.
// Over long-poll the lowered cursor went out only with the next poll, once
// the poll waiting at the server came back: on a quiet stream, up to the
// poll's whole `wait` later (here 8 s; 25 s by default).

const ORG = 'org_lp_replay_latency';
const WAIT_SECONDS = 8;
const closing = closingAfterEach();

describe("a follower's replay over long-poll", () => {
  it('arrives within a moment, not when the waiting poll comes back', async () => {
    const dev = await startDevServer({ batchWindowMs: { min: 1, max: 5 }, pollWaitSeconds: WAIT_SECONDS });
    closing(dev);
    const publish = () => dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated' });
    const browser = createFakeBrowser({
      defaults: {
        url: dev.url,
        scope: { orgId: ORG, userId: 'u_1' },
        transports: [longPollTransport({ waitSeconds: WAIT_SECONDS })],
        auth: { getToken: () => dev.issueToken(ORG, 'u_1') },
      },
    });
    closing(browser);
    const { leader, leaderSeqs, follower, followerSeqs } = await connectedPair(browser);
    publish();
    await until(() => followerSeqs.length === 1 && leaderSeqs.length === 1, 5000, 'seq 1 everywhere');

    // The follower goes into the back/forward cache and misses seqs 2 and 3.
    const pagehide = Object.assign(new Event('pagehide'), { persisted: true });
    browser.windowOf(follower).dispatchEvent(pagehide);
    publish();
    publish();
    await until(() => leaderSeqs.length === 3, 5000, 'leader has seq 3');
    // The leader's next poll is now waiting at the server, for up to 8 s.
    await sleep(300);

    // Back, behind the leader: it asks for a replay from seq 1.
    const startedAt = performance.now();
    const pageshow = Object.assign(new Event('pageshow'), { persisted: true });
    browser.windowOf(follower).dispatchEvent(pageshow);
    // Was about 8 s: the replay went out with the poll after the waiting one.
    await until(() => followerSeqs.length === 3, 2000, 'the replay reached the follower');
    expect(performance.now() - startedAt).toBeLessThan(2000);

    // Nothing lost or repeated anywhere, also when the poll was cut off.
    publish();
    await until(() => leaderSeqs.includes(4) && followerSeqs.includes(4), 5000, 'seq 4 everywhere');
    await sleep(200);
    expect(leaderSeqs).toEqual([1, 2, 3, 4]);
    expect(followerSeqs).toEqual([1, 2, 3, 4]);
    expect(leader.getState().counters.reconnects).toBe(0);
  });
});
