import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A flag set with `setFlags` is setFlags's until the flags URL's document
// changes again (docs/rollout.md, "Which wins"). When the leader tab called
// it, the leader re-sent its flags to every tab before it forgot that the
// flag had come from its flags URL, so the re-send marked the setFlags value
// as the URL's (`fromUrl`). A follower with a flags URL took it for its last
// document's, and its next poll of the unchanged document, which says
// otherwise, counted as a change: it undid the setFlags in every tab within
// one poll interval, a kill switch thrown from the leader tab included.

const browser = fakeBrowserEach();
let document: Record<string, unknown> = {};
const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));

const settle = () => vi.advanceTimersByTimeAsync(100);
const flagsUrl = { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 };

/** A tab that polls the flags URL, subscribed, once its poller is loaded and it settled. */
async function polling(): Promise<RealtimeClient> {
  const tab = browser().tab({ flagsUrl, platform: { fetch: fetch as typeof globalThis.fetch } });
  record(tab);
  await vi.dynamicImportSettled();
  await settle();
  return tab;
}

describe("setFlags in the leader tab, against a flags URL's unchanged document", () => {
  beforeEach(() => {
    document = {};
  });

  it('keeps a kill switch thrown there in every tab across the followers’ polls', async () => {
    document = { emergencyDisable: false, rolloutPercent: 100 };
    const a = await polling();
    const b = await polling();
    expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    a.setFlags({ emergencyDisable: true });
    await settle();
    const off = { status: 'disabled', disabledReason: 'emergency_disable' };
    expect(b.getState()).toMatchObject(off);

    // Both tabs poll the same document twice; it never changes.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.getState()).toMatchObject(off);
    expect(b.getState()).toMatchObject(off);
  });

  it('keeps a switch lifted there lifted, while the document still holds it', async () => {
    document = { emergencyDisable: true };
    const a = await polling();
    const b = await polling();
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });

    a.setFlags({ emergencyDisable: false });
    await settle();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.getState().status).toBe('connected');
    expect(b.getState().status).toBe('connected');

    // The document changes again: that change is the last, and wins.
    document = {};
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState().flags.emergencyDisable).toBe(false);
    document = { emergencyDisable: true };
    await vi.advanceTimersByTimeAsync(5_000);
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
  });

  it('refuses an invalid call before it changes anything: a later lift still reaches the tab', async () => {
    document = { emergencyDisable: true };
    const a = await polling();
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(() => a.setFlags({ emergencyDisable: 'no' as unknown as boolean })).toThrow(RangeError);
    // Ops delete the line: the page's own value (off) comes back.
    document = {};
    await vi.advanceTimersByTimeAsync(5_000);
    expect(a.getState().flags.emergencyDisable).toBe(false);
    expect(a.getState().status).toBe('connected');
  });

  it('keeps it also where the document disables something that is no service name', async () => {
    // The tabs' flags messages carry service names only: a follower heard
    // the leader's re-send with the shorter list, took it for its document's,
    // and its next poll of the unchanged document was a change.
    document = { emergencyDisable: false, disabledServices: ['tasks', 'not a service!'] };
    const a = await polling();
    const b = await polling();
    a.setFlags({ emergencyDisable: true });
    await settle();
    await vi.advanceTimersByTimeAsync(10_000);
    const off = { status: 'disabled', disabledReason: 'emergency_disable' };
    expect(a.getState()).toMatchObject(off);
    expect(b.getState()).toMatchObject(off);
    // The document still reaches every tab when it changes.
    document = { emergencyDisable: false };
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.getState().flags.disabledServices).toEqual([]);
  });
});
