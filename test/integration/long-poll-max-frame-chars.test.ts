import { expect, it } from 'vitest';
import { startDevServer } from '../../src/devserver/index';
import { createFakeBrowser } from '../../src/testing/fake-browser';
import { closingAfterEach, connectedPair, sleep, until } from './devserver-helpers';

// `maxFrameChars` bounds a frame on every transport: WebSocket and SSE hand
// the core each frame's text, which it drops past the bound and counts. A
// long-poll answer was parsed whole by `fetch`, so an oversized frame reached
// the leader's handlers, while the relay to the other tabs (bounded at
// `maxFrameChars` + 4,096 characters) dropped it: the leader had the event,
// its followers never did.

const ORG = 'org_lp_max_frame';
const MAX = 1024;
const closing = closingAfterEach();

it('drops a long-poll frame over maxFrameChars in every tab, as over WebSocket, without polling for it in a loop', async () => {
  const dev = await startDevServer({
    heartbeatMs: 500,
    batchWindowMs: { min: 1, max: 5 },
    pollWaitSeconds: 2,
  });
  closing(dev);
  const publish = (data?: unknown) =>
    dev.publish(ORG, { service: 'tasks', entityType: 'task', type: 'task.updated', data });
  let polls = 0;
  const countingFetch: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).includes('/poll?')) polls++;
    return fetch(input, init);
  };
  const browser = createFakeBrowser({
    defaults: {
      url: dev.url,
      scope: { orgId: ORG, userId: 'u_1' },
      // Named, so it takes the client's maxFrameChars, as SSE does.
      transports: ['long-poll'],
      maxFrameChars: MAX,
      platform: { fetch: countingFetch },
      auth: { getToken: () => dev.issueToken(ORG, 'u_1') },
    },
  });
  closing(browser);
  const { leader, leaderSeqs, followerSeqs } = await connectedPair(browser);

  publish();
  await until(() => leaderSeqs.length === 1 && followerSeqs.length === 1, 5000, 'seq 1 everywhere');

  // Far over the bound, and over the relay's bound too.
  publish({ blob: 'x'.repeat(MAX + 8192) });
  await until(
    () => leaderSeqs.length > 1 || leader.getState().counters.invalidFrames > 0,
    5000,
    'the oversized frame, delivered or counted',
  );
  const pollsThen = polls;
  // Several polls' worth of time: the server holds a poll that asks from
  // past the frame, where one asking from before it is answered at once.
  await sleep(1000);

  expect(leaderSeqs).toEqual([1]);
  expect(followerSeqs).toEqual([1]);
  expect(leader.getState().counters.invalidFrames).toBe(1);
  expect(polls - pollsThen).toBeLessThan(5);
  expect(leader.getState().status).toBe('connected');
});
