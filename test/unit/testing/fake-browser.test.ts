import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import { createFakeBrowser, createMemoryBackend, type FakeBrowser } from '../../../src/testing';

const browsers: FakeBrowser[] = [];
afterEach(async () => {
  for (const b of browsers.splice(0)) await b.close();
  vi.useRealTimers();
});

function open(...args: Parameters<typeof createFakeBrowser>): FakeBrowser {
  const browser = createFakeBrowser(...args);
  browsers.push(browser);
  return browser;
}

function record(rt: RealtimeClient, service = 'tasks'): number[] {
  const seqs: number[] = [];
  rt.subscribe(service, (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 3000, interval: 5 });

describe('createFakeBrowser', () => {
  it('opens tabs that never send SLI reports by chance, unless asked to', () => {
    const browser = open();
    // A draw of 0 samples any rate above 0: only the tab's default keeps it out.
    expect(browser.tab({ platform: { random: () => 0 } }).getState().sli.sampled).toBe(false);
    const asked = browser.tab({ telemetry: { sampleRate: 1 }, platform: { random: () => 0 } });
    expect(asked.getState().sli.sampled).toBe(true);
  });

  it('elects one leader among N tabs, opens one connection and delivers to every tab', async () => {
    const browser = open();
    const tabs = Array.from({ length: 5 }, () => browser.tab());
    const seqs = tabs.map((t) => record(t));
    await waitFor(() => expect(tabs.every((t) => t.getState().status === 'connected')).toBe(true));
    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectCount).toBe(1);
    expect(browser.tabs).toEqual(tabs);
    for (const t of tabs) expect(t.getState().electionStrategy).toBe('locks');
    browser.backend.publish({ service: 'tasks' });
    browser.backend.publish({ service: 'tasks' });
    await waitFor(() => expect(seqs).toEqual(tabs.map(() => [1, 2])));
  });

  it('hands over to another tab when the leader closes', async () => {
    const browser = open();
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const seqs = tabs.map((t) => record(t));
    await waitFor(() => expect(browser.leaders()).toHaveLength(1));
    await waitFor(() => expect(browser.backend.connectionCount).toBe(1));
    const old = browser.leaders()[0] as RealtimeClient;
    await old.close();
    expect(browser.tabs).toHaveLength(2);
    expect(browser.tabs).not.toContain(old);
    browser.backend.publish({ service: 'tasks' });
    await waitFor(() => expect(browser.leaders()).toHaveLength(1));
    await waitFor(() => expect(browser.backend.connectionCount).toBe(1));
    expect(browser.backend.connectCount).toBe(2);
    const survivors = tabs.filter((t) => t !== old).map((t) => seqs[tabs.indexOf(t)]);
    await waitFor(() => expect(survivors).toEqual([[1], [1]]));
  });

  it('works under vi.useFakeTimers()', async () => {
    vi.useFakeTimers();
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 1000 }) });
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const seqs = tabs.map((t) => record(t));
    await vi.advanceTimersByTimeAsync(100);
    expect(tabs.map((t) => t.getState().status)).toEqual(['connected', 'connected', 'connected']);
    expect(browser.leaders()).toHaveLength(1);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(0);
    expect(seqs).toEqual([[1], [1], [1]]);
    // Heartbeats keep the connection alive across a long stretch of fake time.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(browser.backend.connectCount).toBe(1);
    const leader = browser.leaders()[0] as RealtimeClient;
    await leader.close();
    await vi.advanceTimersByTimeAsync(100);
    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectionCount).toBe(1);
  });

  it('runs the storage lease over the shared localStorage, with storage events as the channel', async () => {
    vi.useFakeTimers();
    const browser = open({
      backend: createMemoryBackend({ heartbeatMs: 1000 }),
      defaults: { leader: { strategy: 'storage', takeoverMs: 300 }, platform: { BroadcastChannel: null } },
    });
    const tabs = [browser.tab(), browser.tab(), browser.tab()];
    const seqs = tabs.map((t) => record(t));
    await vi.dynamicImportSettled(); // the lease and the storage channel load on demand
    await vi.advanceTimersByTimeAsync(1000);
    expect(tabs.map((t) => t.getState().electionStrategy)).toEqual(['storage', 'storage', 'storage']);
    expect(browser.leaders()).toHaveLength(1);
    expect(browser.backend.connectionCount).toBe(1);
    expect(browser.channels.openChannels()).toBe(0);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(0);
    expect(seqs).toEqual([[1], [1], [1]]);
    expect(browser.storage.length).toBeGreaterThan(0);
  });

  it("gives each tab its own window and passes the test's own platform pieces through", () => {
    const browser = open();
    const window = new EventTarget();
    const a = browser.tab({ platform: { window } });
    const b = browser.tab();
    expect(browser.windowOf(a)).toBe(window);
    expect(browser.windowOf(b)).not.toBe(window);
    expect(() => browser.windowOf({} as RealtimeClient)).toThrow(/not an open tab/);
  });

  it('keeps two fake browsers apart', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const one = open({ backend });
    const two = open({ backend });
    const tabs = [one.tab(), one.tab(), two.tab(), two.tab()];
    for (const t of tabs) record(t);
    await waitFor(() => expect(tabs.every((t) => t.getState().status === 'connected')).toBe(true));
    expect(one.leaders()).toHaveLength(1);
    expect(two.leaders()).toHaveLength(1);
    expect(backend.connectionCount).toBe(2);
  });
});

describe('createMemoryBackend().error', () => {
  it('sends an error frame: forbidden stops realtime in every tab', async () => {
    const browser = open();
    const tabs = [browser.tab(), browser.tab()];
    for (const t of tabs) record(t);
    const fallbacks: string[] = [];
    for (const t of tabs) t.on('fallback', ({ reason }) => fallbacks.push(reason));
    await waitFor(() => expect(tabs.every((t) => t.getState().status === 'connected')).toBe(true));
    browser.backend.error('forbidden', 'revoked');
    await waitFor(() => expect(tabs.every((t) => t.getState().status === 'disabled')).toBe(true));
    expect(fallbacks).toEqual(['forbidden', 'forbidden']);
    expect(browser.backend.connectionCount).toBe(0);
  });
});
