import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { channelName } from '../../../src/tabs/channel-name';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A follower takes a kill switch from a flags URL it may not poll itself:
// the leader's, or another tab's. If the tab that read it closes while the
// switch is on, the tab that takes over kept it, and nothing lifted it any
// more: a tab without a flags URL of its own has no source that would, and
// a tab with one lifted only on a change of its own last document, which
// never named the switch when the switch came and went between two of its
// polls. As the new leader it handed the switch to every tab that joined
// ("a disable wins"), even to a tab whose own flags URL said it was lifted:
// the browser stayed off until every tab was closed. Now a tab posts what
// its flags URL changes to every tab, and the `flags` message names in
// `fromUrl` the flags whose value came from a flags URL: a tab with a flags
// URL takes those as named by its own last document.

const browserEach = fakeBrowserEach();
let document: Record<string, unknown> = {};
const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));

beforeEach(() => {
  document = {};
});

const settle = () => vi.advanceTimersByTimeAsync(100);
const flagsUrl = { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 };
/** A tab that polls the flags URL, its `tasks` seqs recorded, once its poller is loaded and it settled. */
async function polling() {
  const tab = browserEach().tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
  const seen = record(tab);
  await vi.dynamicImportSettled();
  await settle();
  return { tab, seen };
}
const switchOn = { status: 'disabled', disabledReason: 'emergency_disable' } as const;

/** A tab of an older version, which posts what it likes on the tabs' channel. */
function olderTab() {
  const channel = new (browserEach().channels.BroadcastChannel)(
    channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
  );
  return (message: object) => channel.postMessage(JSON.stringify({ v: 1, from: 'older-tab', ...message }));
}

async function expectConnected(tabs: RealtimeClient[], seen: number[][]) {
  for (const tab of tabs) expect(tab.getState().status).toBe('connected');
  browserEach().backend.publish({ service: 'tasks' });
  await settle();
  for (const seqs of seen) expect(seqs).toEqual([1]);
}

/**
 * The scenario that was the gap: a leader's flags URL throws the switch, the
 * follower `c` takes it, the leader closes, `c` leads with the switch on.
 */
async function switchOutlivesLeader() {
  const browser = browserEach();
  const a = browser.tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
  record(a);
  await vi.dynamicImportSettled();
  await settle();
  const c = browser.tab();
  const seen = record(c);
  await settle();
  const before = c.getState();
  document = { emergencyDisable: true };
  await vi.advanceTimersByTimeAsync(5_000);
  const during = c.getState();
  await a.close();
  await settle();
  return { browser, c, seen, before, during };
}

describe("a flags URL's kill switch whose leader tab closes while it is on", () => {
  // The setup on its own, so a broken one fails here, not as a lift below.
  it('sets up: the follower took the switch and leads with it', async () => {
    const { c, before, during } = await switchOutlivesLeader();
    expect(before).toMatchObject({ isLeader: false, status: 'connected' });
    expect(during).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(c.getState()).toMatchObject({ isLeader: true, status: 'disabled' });
  });

  it('is lifted in the follower that took over (no flags URL of its own)', async () => {
    const { browser, c, seen } = await switchOutlivesLeader();
    // Ops lift the switch; a new tab polling the URL opens.
    document = {};
    const d = browser.tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
    record(d);
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(d.getState().status).toBe('connected');
    expect(c.getState().status).toBe('connected');
    browser.backend.publish({ service: 'tasks' });
    await settle();
    expect(seen).toEqual([1]);
  });
});

describe("a flags URL's kill switch across tabs", () => {
  it("reaches the tabs without a flags URL from a follower's poll, thrown and lifted by deleting the key", async () => {
    const c = browserEach().tab();
    const seenC = record(c);
    await settle();
    const { tab: b } = await polling();
    const e = browserEach().tab();
    const seenE = record(e);
    await settle();
    expect(c.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(5_000);
    for (const tab of [b, c, e]) expect(tab.getState()).toMatchObject(switchOn);
    document = {};
    await vi.advanceTimersByTimeAsync(5_000);
    await expectConnected([b, c, e], [seenC, seenE]);
  });

  it('is lifted by a follower whose own polls never saw it, after the tab that read it closed', async () => {
    const { tab: a } = await polling();
    // b polls halfway between a's polls.
    await vi.advanceTimersByTimeAsync(2_400);
    const { tab: b, seen } = await polling();
    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(2_500);
    expect(b.getState()).toMatchObject(switchOn);
    // Lifted before b polls again; a, which read it, closes.
    document = {};
    await a.close();
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: true, ...switchOn });
    await vi.advanceTimersByTimeAsync(5_000);
    await expectConnected([b], [seen]);
  });

  it('is thrown again by a follower that heard it lifted, after the tab that lifted it closed', async () => {
    const { tab: a } = await polling();
    await vi.advanceTimersByTimeAsync(2_400);
    const { tab: b } = await polling();
    document = { emergencyDisable: true };
    // Both polled it: a at 5 s, b at 7.5 s.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState()).toMatchObject(switchOn);
    // Lifted; a polls it at 10 s and closes, b has not polled since.
    document = {};
    await vi.advanceTimersByTimeAsync(2_500);
    expect(b.getState().status).toBe('connected');
    await a.close();
    // Thrown again: b's next poll sees a change, though its own last document had it too.
    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState()).toMatchObject({ isLeader: true, ...switchOn });
  });

  it('takes a message without fromUrl (an older tab) as a setFlags: held until the document changes', async () => {
    const { tab: b, seen } = await polling();
    const post = olderTab();
    post({ type: 'flags', flags: { emergencyDisable: true } });
    await settle();
    expect(b.getState()).toMatchObject(switchOn);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(b.getState()).toMatchObject(switchOn);
    // Marked as a flags URL's, the next poll of a document without it lifts it.
    post({ type: 'flags', flags: { emergencyDisable: true }, fromUrl: ['emergencyDisable'] });
    await settle();
    expect(b.getState()).toMatchObject(switchOn);
    await vi.advanceTimersByTimeAsync(5_000);
    await expectConnected([b], [seen]);
  });

  it('leaves a flag set by setFlags since to setFlags: the document dropping it changes nothing', async () => {
    const { tab: a } = await polling();
    const c = browserEach().tab();
    const seen = record(c);
    await settle();
    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(5_000);
    for (const tab of [a, c]) expect(tab.getState()).toMatchObject(switchOn);
    // The app throws the switch itself too: it is no longer the URL's alone.
    c.setFlags({ emergencyDisable: true });
    await settle();
    document = {};
    await vi.advanceTimersByTimeAsync(20_000);
    for (const tab of [a, c]) expect(tab.getState()).toMatchObject(switchOn);
    c.setFlags({ emergencyDisable: false });
    await settle();
    await expectConnected([a, c], [seen]);
  });
});
