import { describe, expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { createFakeBrowser } from '../../src/testing/fake-browser';
import { longPollTransport } from '../../src/transports/builtins';
import { closingAfterEach, connectedPair, sleep, until } from './devserver-helpers';

// A follower back from the back/forward cache asks the leader to replay from
// its old cursor. Over long-poll the leader has no reconnect (and so no
// welcome) to drop its replay floor: the floor goes into every next poll
// until a batch that starts at or before it comes. When the server's buffer
// no longer reaches back to the floor, it answers with a `reset` instead,
// and no such batch ever comes: every poll asked from the floor again, got
// the reset again at once, and every tab fired `resync` in a tight loop.

const ORG = 'org_lp_reset';
const closing = closingAfterEach();

describe('a replay floor the server can only answer with a reset (long-poll)', () => {
  it('resets once, not at every poll', async () => {
    const dev = await startDevServer({
      replayBufferSize: 3,
      heartbeatMs: 500,
      batchWindowMs: { min: 1, max: 5 },
      pollWaitSeconds: 2,
    });
    closing(dev);
    const publish = () => dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated' });
    const browser = createFakeBrowser({
      defaults: {
        url: dev.url,
        scope: { orgId: ORG, userId: 'u_1' },
        // Short polls, so the next poll (which carries the floor) comes soon.
        transports: [longPollTransport({ waitSeconds: 1 })],
        auth: { getToken: () => dev.issueToken(ORG, 'u_1') },
      },
    });
    closing(browser);
    const { leader, leaderSeqs, follower, followerSeqs } = await connectedPair(browser);

    publish();
    await until(() => followerSeqs.length === 1 && leaderSeqs.length === 1, 5000, 'seq 1 everywhere');

    // The follower goes into the back/forward cache; the buffer moves on past its cursor.
    const pagehide = Object.assign(new Event('pagehide'), { persisted: true });
    browser.windowOf(follower).dispatchEvent(pagehide);
    // One at a time, so the leader's polls keep up with its small buffer.
    for (let seq = 2; seq <= 7; seq++) {
      publish();
      await until(() => leaderSeqs.length === seq, 5000, `leader has seq ${seq}`);
    }

    const resyncs = { leader: 0, follower: 0 };
    leader.on('resync', () => resyncs.leader++);
    follower.on('resync', () => resyncs.follower++);
    // Back: behind the leader, it asks for a replay from seq 1, which the
    // buffer (seqs 5..7) cannot give: the server resets the service.
    const pageshow = Object.assign(new Event('pageshow'), { persisted: true });
    browser.windowOf(follower).dispatchEvent(pageshow);
    await until(() => resyncs.follower >= 1, 5000, 'the follower resynced');
    // Several polls' worth of time.
    await sleep(1500);

    expect(resyncs.follower).toBe(1);
    expect(resyncs.leader).toBeLessThanOrEqual(1);
    expect(leader.getState().counters.resyncs).toBeLessThanOrEqual(1);
    // Live events still flow to both, once.
    publish();
    await until(() => leaderSeqs.includes(8) && followerSeqs.includes(8), 5000, 'seq 8 everywhere');
    expect(leaderSeqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(followerSeqs).toEqual([1, 8]);
  });
});
