import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  openTab,
  orgConnections,
  setUpServerAndChromium,
  sleep,
  tabData,
  tabState,
  waitUntil,
} from './harness';

// Two tabs of one browser share one connection but watch different
// properties: each gets exactly its property's events and those without a
// property, in seq order, and none of the other tab's.

const env = setUpServerAndChromium();

/** prop_1, prop_2, none, prop_1, prop_2, prop_3 (watched by nobody), … */
const PROPERTIES: Array<string | undefined> = ['prop_1', 'prop_2', undefined, 'prop_1', 'prop_2', 'prop_3'];

describe('property filters across tabs in real Chromium', () => {
  it('each tab gets exactly its property and the property-less events, in order, within 2 s', async () => {
    const org = 'org_filters';
    const context = await env.browser.newContext();
    const errors: string[] = [];
    const tabs: Array<{ filter: string; page: Page }> = [];
    for (const filter of ['prop_1', 'prop_2']) {
      tabs.push({ filter, page: await openTab(context, env.server.origin, { org, filter }, errors) });
    }
    await waitUntil(
      async () => {
        const states = await Promise.all(tabs.map((t) => tabState(t.page)));
        const connections = orgConnections(env.server, org);
        const propertyIds = connections[0]?.propertyIds;
        return (
          connections.length === 1 &&
          states.every((s) => s.status === 'connected') &&
          // The shared connection carries what both tabs need.
          (propertyIds === null || (propertyIds?.includes('prop_1') && propertyIds.includes('prop_2')))
        );
      },
      { message: 'one connection subscribed for both properties' },
    );
    expect((await Promise.all(tabs.map((t) => tabState(t.page)))).map((s) => s.propertyFilter)).toEqual([
      'prop_1',
      'prop_2',
    ]);

    const published: Array<{ seq: number; propertyId: string | null }> = [];
    let i = 0;
    const publisher = setInterval(() => {
      const propertyId = PROPERTIES[i++ % PROPERTIES.length];
      const event = env.server.publish(org, {
        service: 'tasks',
        entityType: 'task',
        type: 'task.updated',
        ...(propertyId === undefined ? {} : { propertyId }),
      });
      published.push({ seq: event.seq, propertyId: propertyId ?? null });
    }, 100);
    try {
      await sleep(3000);
    } finally {
      clearInterval(publisher);
    }
    expect(published.length).toBeGreaterThanOrEqual(25);

    const expected = (filter: string) =>
      published.filter((e) => e.propertyId === null || e.propertyId === filter);
    const stoppedAt = performance.now();
    await waitUntil(
      async () => {
        const data = await Promise.all(tabs.map((t) => tabData(t.page)));
        return data.every((d, k) => d.events.length >= expected(tabs[k]!.filter).length);
      },
      { timeoutMs: 2000, message: 'both tabs converged within 2 s' },
    );
    const convergedMs = performance.now() - stoppedAt;
    await sleep(200);
    for (const tab of tabs) {
      const { events } = await tabData(tab.page);
      expect({
        tab: tab.filter,
        events: events.map((e) => ({ seq: e.seq, propertyId: e.propertyId })),
      }).toEqual({
        tab: tab.filter,
        events: expected(tab.filter),
      });
    }
    console.log(`filters converged ${Math.round(convergedMs)} ms after publishing stopped`);
    expect(errors).toEqual([]);
    await context.close();
  });
});
