import { describe, expect, it } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { channelName } from '../../../src/tabs/channel-name';
import { kit } from '../../../src/transports/kit';
import { longPollTransport } from '../../../src/transports/long-poll';
import type { Transport } from '../../../src/transports/types';
import { type FetchCall, jsonResponse, pendingUntilAborted, scriptedFetch } from '../transports/fakes';
import { record, settle } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// The leader subscribes to the union of every tab's property filter, and SSE
// and long-poll put those ids in the URL. One tab (another deploy, a buggy
// build, a hostile script) announcing a filter that cannot be sent (a lone
// surrogate makes `encodeURIComponent` throw; a comma splits it in two; '')
// broke or changed the connection of every tab. Such a `needs` message is
// invalid: counted, dropped, and never in the union. A long id is none of
// these: the previous deploy took one, and a dropped `needs` left its tab
// without its events.

const browser = fakeBrowserEach();

const BAD_FILTERS: unknown[] = ['\uD800', 'p\uDC00q', '', 'a,b', 5];

/** Posts raw messages on the tabs' channel, as a tab of another bundle could. */
function rogue(): { post(message: unknown): void } {
  const channel = new (browser().channels.BroadcastChannel)(
    channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
  );
  return { post: (message) => channel.postMessage(message) };
}

const needs = (propertyFilter: unknown) => ({
  v: 1,
  from: 'rogue-tab',
  type: 'needs',
  services: ['tasks'],
  propertyFilter,
});

/** The backend's transport, recording the property ids of every connect and update. */
function recording(inner: Transport): Transport & { asked: (string[] | null)[] } {
  const asked: (string[] | null)[] = [];
  return {
    name: inner.name,
    asked,
    async connect(ctx) {
      asked.push(ctx.propertyIds);
      const connection = await inner.connect(ctx);
      return {
        ...connection,
        update: (services, propertyIds) => {
          asked.push(propertyIds);
          return connection.update(services, propertyIds);
        },
      };
    },
  };
}

describe("another tab's needs with a property filter that cannot be sent", () => {
  it("is counted and dropped: the union stays the valid tabs'", async () => {
    const transport = recording(browser().backend.transport);
    const leader = browser().tab({ transports: [transport] });
    record(leader);
    leader.setPropertyFilter('p1');
    await settle();
    expect(leader.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    const before = leader.getState().counters.invalidTabMessages;

    const intruder = rogue();
    for (const filter of BAD_FILTERS) intruder.post(needs(filter));
    await settle();

    expect(leader.getState().counters.invalidTabMessages).toBe(before + BAD_FILTERS.length);
    expect(transport.asked.every((ids) => ids?.length === 1 && ids[0] === 'p1')).toBe(true);
    expect(leader.getState().status).toBe('connected');
  });

  it("keeps a long id a tab of the previous deploy announces in the union: that tab's events still come", async () => {
    // The previous version's setPropertyFilter took any length: dropping its
    // needs left that tab without its events (its services out of the union).
    const transport = recording(browser().backend.transport);
    const leader = browser().tab({ transports: [transport] });
    record(leader);
    leader.setPropertyFilter('p1');
    await settle();
    const before = leader.getState().counters.invalidTabMessages;
    const long = `org/${'a'.repeat(120)}`;

    rogue().post(needs(long));
    await settle();

    expect(leader.getState().counters.invalidTabMessages).toBe(before);
    expect(transport.asked.at(-1)).toEqual([long, 'p1']);
  });

  it("leaves the leader's long-poll connection polling", async () => {
    // A server that welcomes the first poll and holds every later one.
    const { fetch, calls } = scriptedFetch((call: FetchCall, index) => {
      if (call.init.method === 'POST') return jsonResponse({ cursor: {} });
      if (index === 0) {
        const welcome = {
          type: 'welcome',
          connectionId: 'c1',
          serverTime: 1,
          heartbeatMs: 30_000,
          cursor: {},
        };
        return jsonResponse({ frames: [welcome] });
      }
      return pendingUntilAborted(call.signal);
    });
    const polls = () => calls.filter((call) => call.init.method !== 'POST').map((call) => new URL(call.url));
    const leader: RealtimeClient = browser().tab({ transports: [longPollTransport({ fetch }, kit)] });
    record(leader);
    leader.setPropertyFilter('p1');
    await settle();
    expect(leader.getState()).toMatchObject({ transport: 'long-poll', status: 'connected' });

    rogue().post(needs('\uD800'));
    await settle();
    // The leader's own change still reaches the server: the poll loop is alive.
    leader.setPropertyFilter('p2');
    await settle();

    const last = polls().at(-1) as URL;
    expect(last.searchParams.get('connectionId')).toBe('c1');
    expect(last.searchParams.get('propertyIds')).toBe('p2');
    expect(leader.getState().status).toBe('connected');
  });
});
