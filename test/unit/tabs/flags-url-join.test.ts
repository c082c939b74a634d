import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// A kill switch thrown by the flags URL and lifted again must be lifted in
// every tab. A tab that opens while the leader still holds the thrown switch
// (it lifted in the document, the leader has not polled since) gets the
// leader's flags with its hello answer, merged "a disable wins". The lift
// then never reached that tab: the leader's poller applies documents only in
// its own tab, and the new tab's own poller saw no change (its first
// document was already the lifted one, or it has no flagsUrl at all).

const browser = fakeBrowserEach();
let document: Record<string, unknown> = {};
const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));

beforeEach(() => {
  document = {};
});

const settle = () => vi.advanceTimersByTimeAsync(100);

function polling(): RealtimeClient {
  return browser().tab({
    flagsUrl: { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 },
    platform: { fetch: fetch as typeof globalThis.fetch },
  });
}

async function leaderThatThrewTheSwitch(): Promise<RealtimeClient> {
  const a = polling();
  record(a);
  await vi.dynamicImportSettled();
  await settle();
  expect(a.getState()).toMatchObject({ isLeader: true, status: 'connected' });
  document = { emergencyDisable: true };
  await vi.advanceTimersByTimeAsync(5_000);
  expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
  // Ops lift the switch; the leader has not polled since.
  document = {};
  return a;
}

describe('a kill switch of the flags URL, lifted while a tab opens', () => {
  it('is lifted in a new tab that polls the same URL', async () => {
    const a = await leaderThatThrewTheSwitch();
    const c = polling();
    const seen = record(c);
    await vi.dynamicImportSettled();
    await settle();
    // Both tabs poll the lifted document.
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(a.getState()).toMatchObject({ status: 'connected' });
    expect(c.getState().flags.emergencyDisable).toBe(false);
    expect(c.getState()).toMatchObject({ status: 'connected' });
    browser().backend.publish({ service: 'tasks' });
    await settle();
    expect(seen).toEqual([1]);
  });

  it('is lifted in a new tab without a flags URL of its own', async () => {
    const a = await leaderThatThrewTheSwitch();
    const c = browser().tab();
    const seen = record(c);
    await settle();
    expect(c.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(a.getState()).toMatchObject({ status: 'connected' });
    expect(c.getState()).toMatchObject({ status: 'connected' });
    browser().backend.publish({ service: 'tasks' });
    await settle();
    expect(seen).toEqual([1]);
  });

  it("does not lift a follower's own switch when the leader's flags change", async () => {
    const a = browser().tab();
    record(a);
    await settle();
    const b = browser().tab({ flags: { emergencyDisable: true } });
    record(b);
    await settle();
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    a.setFlags({ shadowMode: true });
    await settle();
    expect(b.getState().flags).toMatchObject({ emergencyDisable: true, shadowMode: true });
    expect(b.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(a.getState()).toMatchObject({ status: 'connected' });
  });

  it('tells the lift after the state, so no tab fires a second fallback', async () => {
    const tabs = [browser().tab(), browser().tab(), browser().tab()];
    const fallbacks = tabs.map(() => 0);
    tabs.forEach((tab, i) => {
      record(tab);
      tab.on('fallback', () => fallbacks[i]!++);
    });
    await settle();
    tabs[1]!.setFlags({ emergencyDisable: true });
    await settle();
    expect(fallbacks).toEqual([1, 1, 1]);
    // Lifted by the leader, whose flags (and state) every tab then hears.
    tabs[0]!.setFlags({ emergencyDisable: false });
    await settle();
    for (const tab of tabs) expect(tab.getState().status).toBe('connected');
    expect(fallbacks).toEqual([1, 1, 1]);
  });
});
