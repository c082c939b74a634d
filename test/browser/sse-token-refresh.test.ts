import { expect, it } from 'vitest';
import {
  openTabs,
  orgConnections,
  runProblems,
  setUpServerAndChromium,
  sleep,
  startTabsServer,
  tabSeqs,
  tabState,
  waitUntil,
} from './harness';

// An SSE stream sends its token once; the dev server ends it (`unauthorized`)
// when that token expires. The leader's transport reopens the stream with
// each refreshed token, from the cursor, in place: in real Chromium, where
// cancelling the old fetch body must close the old stream at the server too.
// Tokens live 2 s here and are refreshed 1 s after they were fetched.

const opened: string[] = [];
const env = setUpServerAndChromium(() =>
  startTabsServer({
    log: (line) => {
      if (line.startsWith('open sse ')) opened.push(line);
    },
  }),
);

it('sse: refreshed tokens move the stream without a reconnect, a lost or a repeated event', async () => {
  const org = 'org_sse_token_refresh';
  const context = await env.browser.newContext();
  const errors: string[] = [];
  const tabs = await openTabs(
    context,
    env.server.origin,
    2,
    { org, transports: ['sse'], ttlMs: 2000 },
    errors,
  );
  await waitUntil(
    async () => (await Promise.all(tabs.map(tabState))).every((s) => s.status === 'connected'),
    { timeoutMs: 10_000, message: 'both tabs connected' },
  );
  const streamsAtStart = opened.filter((line) => line.includes(`org=${org} `)).length;

  let published = 0;
  const publisher = setInterval(() => {
    published = env.server.publish(org, { service: 'tasks', entityType: 'task', type: 'task.updated' }).seq;
  }, 20);
  try {
    // Past four token lifetimes.
    await sleep(4500);
  } finally {
    clearInterval(publisher);
  }

  const last = published;
  await waitUntil(
    async () => (await Promise.all(tabs.map((t) => tabSeqs(t)))).every((s) => s.at(-1) === last),
    {
      timeoutMs: 10_000,
      message: `both tabs at seq ${last}`,
    },
  );
  await sleep(200); // room for a late duplicate to show
  for (const [i, tab] of tabs.entries()) {
    expect({ tab: i, problems: runProblems(await tabSeqs(tab), 1, last) }).toEqual({ tab: i, problems: [] });
    const state = await tabState(tab);
    expect({ tab: i, status: state.status, reconnects: state.counters.reconnects }).toEqual({
      tab: i,
      status: 'connected',
      reconnects: 0,
    });
  }
  // A stream per refreshed token, and only the newest one left at the server.
  expect(
    opened.filter((line) => line.includes(`org=${org} `)).length - streamsAtStart,
  ).toBeGreaterThanOrEqual(3);
  await waitUntil(async () => orgConnections(env.server, org).length === 1, {
    timeoutMs: 2000,
    message: 'one connection',
  });
  expect(errors).toEqual([]);
  await context.close();
});
