import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { createFakeBrowser, createMemoryBackend, type FakeBrowser } from '../../../src/testing';

// Each fake tab has a document of its own. Without one, every tab read
// `globalThis.document`: under happy-dom or jsdom one `visibilitychange`
// reached all the tabs at once, and no tab could be hidden alone.

let browser: FakeBrowser | undefined;
const globalDocument = Object.getOwnPropertyDescriptor(globalThis, 'document');
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  if (globalDocument) Object.defineProperty(globalThis, 'document', globalDocument);
  else delete (globalThis as { document?: unknown }).document;
  vi.useRealTimers();
});

/** A global `document` as happy-dom and jsdom have one. */
function installGlobalDocument(): EventTarget & { visibilityState: string } {
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  Object.defineProperty(globalThis, 'document', { value: document, configurable: true, writable: true });
  return document;
}

describe('FakeBrowser.setVisibility', () => {
  it('hides and shows one tab only, even where a global document exists', () => {
    const global = installGlobalDocument();
    browser = createFakeBrowser();
    const [a, b] = [browser.tab(), browser.tab()];
    const heard: string[] = [];
    for (const [name, tab] of [
      ['a', a],
      ['b', b],
    ] as const) {
      browser.documentOf(tab).addEventListener?.('visibilitychange', () => {
        heard.push(`${name} ${browser?.documentOf(tab).visibilityState}`);
      });
    }
    global.addEventListener('visibilitychange', () => heard.push('global'));
    expect(browser.documentOf(a)).not.toBe(global);
    expect(browser.documentOf(a)).not.toBe(browser.documentOf(b));
    expect(browser.documentOf(a).visibilityState).toBe('visible');

    browser.setVisibility(a, 'hidden');
    browser.setVisibility(a, 'hidden'); // no change: no event, as in browsers
    browser.setVisibility(a, 'visible');
    browser.setVisibility(b, 'hidden');
    expect(heard).toEqual(['a hidden', 'a visible', 'b hidden']);
    expect(browser.documentOf(b).visibilityState).toBe('hidden');
    expect((browser.documentOf(b) as { hidden?: boolean }).hidden).toBe(true);
  });

  it('a leader shown again reconnects at once, without waiting out its backoff; no other tab does', async () => {
    vi.useFakeTimers();
    browser = createFakeBrowser({
      backend: createMemoryBackend({ heartbeatMs: 60_000 }),
      defaults: { backoff: { baseMs: 30_000, capMs: 60_000 } },
    });
    const tabs = [browser.tab(), browser.tab()];
    for (const tab of tabs) tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(100);
    const leader = browser.leaders()[0] as RealtimeClient;
    const [follower] = tabs.filter((t) => t !== leader) as [RealtimeClient];
    browser.backend.drop(); // the leader waits its backoff (30 s at least) to reconnect
    await vi.advanceTimersByTimeAsync(100);
    const waiting = browser.backend.connectCount;
    expect(leader.getState().status).toBe('reconnecting');

    // The follower's visibility, and the leader going hidden, change nothing.
    browser.setVisibility(follower, 'hidden');
    browser.setVisibility(follower, 'visible');
    browser.setVisibility(leader, 'hidden');
    await vi.advanceTimersByTimeAsync(100);
    expect(browser.backend.connectCount).toBe(waiting);

    browser.setVisibility(leader, 'visible');
    await vi.advanceTimersByTimeAsync(100);
    expect(browser.backend.connectCount).toBe(waiting + 1);
    expect(tabs.map((t) => t.getState().status)).toEqual(['connected', 'connected']);
  });

  it("keeps a tab's own platform.document, and refuses to set its visibility", () => {
    browser = createFakeBrowser();
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const own = browser.tab({ platform: { document } });
    expect(browser.documentOf(own)).toBe(document);
    expect(() => browser?.setVisibility(own, 'hidden')).toThrow(/platform\.document of its own/);
    expect(() => browser?.setVisibility({} as RealtimeClient, 'hidden')).toThrow(/not an open tab/);
  });
});
