import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { channelName } from '../../../src/tabs/channel-name';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A flag set with `setFlags` holds until the flags URL's document changes
// again (docs/rollout.md, "Which wins"). A tab that opened had no earlier
// document: it took its first poll of the unchanged one for a change and
// posted it to every tab, so `"emergencyDisable": false` in the document
// lifted, everywhere, a kill switch thrown with `setFlags`. The leader's
// answer to the new tab's hello now carries the document as the leader's
// poller knows it, which the new tab's poller takes for its last one.

const POLLER = '../../../src/flags/flags-poller';
const browser = fakeBrowserEach();
let document: Record<string, unknown> = {};
// The network takes a while, as the channel does not: the leader's answer
// comes first, as it does in a browser.
const fetch = vi.fn(async () => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return new Response(JSON.stringify(document), { status: 200 });
});

const settle = () => vi.advanceTimersByTimeAsync(100);
const flagsUrl = { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 };
const off = { status: 'disabled', disabledReason: 'emergency_disable' };

/** A tab that polls the flags URL, subscribed. */
const polling = (): RealtimeClient => {
  const tab = browser().tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
  record(tab);
  return tab;
};

/** A polling tab once its poller is loaded and it settled. */
async function settled(): Promise<RealtimeClient> {
  const tab = polling();
  await vi.dynamicImportSettled();
  await settle();
  return tab;
}

/**
 * Has the next tab's poller load only once the returned function is called;
 * that resolves once the module is here.
 */
function slowPollerDownload(): () => Promise<void> {
  let loaded!: () => void;
  const download = new Promise<void>((resolve) => {
    loaded = resolve;
  });
  let here!: () => void;
  const module = new Promise<void>((resolve) => {
    here = resolve;
  });
  vi.doMock(POLLER, async (importOriginal) => {
    await download;
    const original = await importOriginal();
    here();
    return original;
  });
  vi.resetModules();
  return () => {
    loaded();
    return module;
  };
}

/** Leader `a` and follower `b` poll `document`; `b` throws the switch with setFlags. */
async function switchThrownWithSetFlags(): Promise<[RealtimeClient, RealtimeClient]> {
  const a = await settled();
  const b = await settled();
  expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });
  b.setFlags({ emergencyDisable: true });
  await settle();
  expect(a.getState()).toMatchObject(off);
  return [a, b];
}

beforeEach(() => {
  document = { emergencyDisable: false, rolloutPercent: 100 };
  fetch.mockClear();
});

afterEach(() => {
  vi.doUnmock(POLLER);
});

describe('a tab that opens, against a setFlags and the unchanged flags document', () => {
  it('leaves the kill switch on in every tab', async () => {
    const [a, b] = await switchThrownWithSetFlags();
    const c = await settled();
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(c.getState()).toMatchObject(off);
    // Every tab polls the unchanged document twice more.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetch).toHaveBeenCalledTimes(9);
    for (const tab of [a, b, c]) expect(tab.getState()).toMatchObject(off);
  });

  it('leaves it on also when the tab loads its poller after the answer', async () => {
    const [a, b] = await switchThrownWithSetFlags();
    const loaded = slowPollerDownload();
    const c = polling();
    await settle();
    expect(c.getState()).toMatchObject(off);
    expect(fetch).toHaveBeenCalledTimes(2);
    await loaded();
    await settle();
    expect(fetch).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(10_000);
    for (const tab of [a, b, c]) expect(tab.getState()).toMatchObject(off);
  });

  it('leaves it on also when the poller is there before the answer', async () => {
    const [a, b] = await switchThrownWithSetFlags();
    // Loaded before the first subscriber: the tab says hello, and polls, only then.
    const c = browser().tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
    await vi.dynamicImportSettled();
    await settle();
    expect(fetch).toHaveBeenCalledTimes(2);
    record(c);
    await settle();
    expect(fetch).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(10_000);
    for (const tab of [a, b, c]) expect(tab.getState()).toMatchObject(off);
  });

  it('takes a changed document it reads first for a change, in every tab', async () => {
    const a = await settled();
    const b = await settled();
    b.setFlags({ shadowMode: true });
    await settle();
    // Ops throw the switch; a tab opens before the others poll again.
    document = { emergencyDisable: true };
    const c = await settled();
    expect(fetch).toHaveBeenCalledTimes(3);
    for (const tab of [a, b, c]) expect(tab.getState()).toMatchObject(off);
    // And lift it again: the next poll, whoever makes it, lifts it everywhere.
    document = {};
    await vi.advanceTimersByTimeAsync(5_000);
    for (const tab of [a, b, c]) expect(tab.getState().status).toBe('connected');
  });

  it('hears a document with a disabled "service" that is no service name', async () => {
    // The flags URL takes any strings there; the tabs' `flags` only service names.
    document = { emergencyDisable: false, disabledServices: ['work orders'] };
    const [a, b] = await switchThrownWithSetFlags();
    const loaded = slowPollerDownload();
    const c = polling();
    await settle();
    expect(c.getState()).toMatchObject(off);
    await loaded();
    await settle();
    // Its first poll: the document as it is, no change.
    expect(fetch).toHaveBeenCalledTimes(3);
    for (const tab of [a, b, c]) expect(tab.getState()).toMatchObject(off);
    expect(c.getState().counters.invalidTabMessages).toBe(0);
  });
});

describe("a flags message's document", () => {
  it('is read at the boundary: an invalid one drops the message, counted', async () => {
    const a = browser().tab({ flags: { emergencyDisable: true } });
    record(a);
    await settle();
    expect(a.getState()).toMatchObject(off);
    const { BroadcastChannel } = browser().channels;
    const intruder = new BroadcastChannel(channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }));
    const documents: unknown[] = [
      { emergencyDisable: 'no' },
      { rolloutPercent: 101 },
      { disabledServices: 'tasks' },
      [],
      null,
    ];
    for (const document of documents) {
      const message = { v: 1, from: 'x', type: 'flags', flags: { emergencyDisable: false }, document };
      intruder.postMessage(JSON.stringify(message));
    }
    await settle();
    intruder.close();
    expect(a.getState().counters.invalidTabMessages).toBe(documents.length);
    expect(a.getState()).toMatchObject(off);
  });
});
