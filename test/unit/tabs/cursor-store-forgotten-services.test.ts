import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { LEFT_SERVICES_MAX } from '../../../src/pipeline/event-pipeline';
import { readCursor } from '../../../src/protocol/read';
import type { Cursor } from '../../../src/protocol/schemas';
import { channelName } from '../../../src/tabs/channel-name';
import { CursorStore } from '../../../src/tabs/cursor-store';
import { createFakeBrowser, type FakeBrowser, globalTimersClock } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

// The pipeline keeps the state of the LEFT_SERVICES_MAX services that left
// the union last, and forgets older ones (docs/architecture.md: "a page that
// subscribes one service per document it opens" must not keep state of every
// document for good). The cursor store max-merged every write into what it
// held and never dropped a service: the stored record grew with every service
// the browser ever subscribed, for good, and every write read, merged and
// rewrote all of it. Reopened, a tab seeded them all back into its pipeline,
// where (alone, its subscription unchanged) nothing trimmed them again: each
// batch then copied a cursor of every document ever opened, twice. The store
// now keeps, beyond what the writing tab holds, the services held last only.

const browsers: FakeBrowser[] = [];
afterEach(async () => {
  await Promise.all(browsers.splice(0).map((b) => b.close()));
});

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * `tasks`, the documents the pipeline keeps (one more in the state until its
 * next cursor change), and as many the store keeps beyond those.
 */
const BOUND = 2 + 2 * LEFT_SERVICES_MAX;

const NAME = channelName('tabwire', { orgId: 'org_test', userId: 'u_1' });

async function stored(indexedDB: IDBFactory): Promise<Cursor | undefined> {
  const store = new CursorStore({ name: NAME, read: readCursor, indexedDB, clock: globalTimersClock });
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}

/** One document after another: subscribe its service, get an event, leave it. */
async function visitDocuments(
  tab: RealtimeClient,
  backend: ReturnType<typeof createMemoryBackend>,
  count: number,
) {
  for (let i = 0; i < count; i++) {
    const service = `doc-${i}`;
    let got = 0;
    const off = tab.subscribe(service, (events) => {
      got += events.length;
    });
    await until(() => tab.getState().cursor[service] !== undefined, `${service} subscribed`);
    backend.publish({ service });
    await until(() => got === 1, `${service} event`);
    off();
  }
}

describe('persistCursor: services the pipeline forgot', () => {
  it('are not kept in the store for good, nor seeded back into a reopened tab', async () => {
    const documents = 4 * LEFT_SERVICES_MAX;
    const indexedDB = new IDBFactory();
    const backend = createMemoryBackend({ heartbeatMs: 600_000 });
    const browser = createFakeBrowser({
      backend,
      defaults: { persistCursor: true, platform: { indexedDB } },
    });
    browsers.push(browser);
    const tab = browser.tab();
    tab.subscribe('tasks', () => {});
    await until(() => tab.getState().status === 'connected', 'connected');
    await visitDocuments(tab, backend, documents);
    // The pipeline holds `tasks` and the documents left last.
    expect(Object.keys(tab.getState().cursor).length).toBeLessThanOrEqual(BOUND);
    await tab.close();

    const cursor = await stored(indexedDB);
    expect(cursor?.tasks).toBeDefined();
    // The documents left last are resumable ...
    expect(cursor?.[`doc-${documents - 1}`]).toBe(1);
    // ... the ones the pipeline forgot long ago are not kept (was: every one).
    expect(cursor?.['doc-0']).toBeUndefined();
    expect(Object.keys(cursor ?? {}).length).toBeLessThanOrEqual(BOUND);

    // Reopened: the tab's pipeline stays bounded as well.
    const again = browser.tab();
    again.subscribe('tasks', () => {});
    await until(() => again.getState().status === 'connected', 'reconnected');
    expect(Object.keys(again.getState().cursor).length).toBeLessThanOrEqual(BOUND);
  });
});
