import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { Clock } from '../../../src/clock';
import { channelName } from '../../../src/tabs/channel-name';
import {
  createFakeBrowser,
  createMemoryBackend,
  type FakeBrowser,
  globalTimersClock,
} from '../../../src/testing';

// browser.crash(tab): the tab dies as a killed renderer does. The other tabs
// must take over and get every event once, in order; the dead tab must get
// nothing more and run none of its code (no goodbye, no lease removed).

const TAKEOVER_MS = 3_000;

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

function record(rt: RealtimeClient): number[] {
  const seqs: number[] = [];
  rt.subscribe('tasks', (events) => {
    for (const e of events) seqs.push(e.seq);
  });
  return seqs;
}

/** Three tabs subscribed to `tasks`, connected, with two events delivered; the leader first. */
async function threeTabs(browser: FakeBrowser, settle: () => Promise<unknown>) {
  const tabs = [browser.tab(), browser.tab(), browser.tab()];
  const seqs = new Map(tabs.map((t) => [t, record(t)]));
  await settle();
  expect(browser.leaders()).toHaveLength(1);
  expect(browser.backend.connectionCount).toBe(1);
  browser.backend.publish({ service: 'tasks' });
  browser.backend.publish({ service: 'tasks' });
  await settle();
  for (const s of seqs.values()) expect(s).toEqual([1, 2]);
  const leader = browser.leaders()[0] as RealtimeClient;
  return { leader, followers: tabs.filter((t) => t !== leader), seqs };
}

describe('FakeBrowser.crash', () => {
  it('Web Locks: the lock is freed at once, a follower takes over, no event is lost or doubled', async () => {
    vi.useFakeTimers();
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const { leader, followers, seqs } = await threeTabs(browser, () => vi.advanceTimersByTimeAsync(100));
    const goodbyes: string[] = [];
    for (const type of ['pagehide', 'visibilitychange']) {
      browser.windowOf(leader).addEventListener(type, () => goodbyes.push(type));
    }
    leader.on('statechange', () => goodbyes.push('statechange'));
    const channelsBefore = browser.channels.openChannels();
    const stateBefore = leader.getState();
    expect((await browser.locks.query()).pending).toHaveLength(2);

    browser.crash(leader);
    // The server saw the connection go, the browser freed the lock (granted
    // to the next follower at once), the tab's channel is gone.
    expect(browser.backend.connectionCount).toBe(0);
    expect(await browser.locks.query()).toMatchObject({ held: [{}], pending: [{}] });
    expect(browser.channels.openChannels()).toBeLessThan(channelsBefore);
    expect(browser.tabs).toEqual(followers);
    expect(() => browser.windowOf(leader)).toThrow(/not an open tab/);

    browser.backend.publish({ service: 'tasks' }); // while nobody is connected
    await vi.advanceTimersByTimeAsync(100);
    expect(browser.leaders()).toHaveLength(1);
    expect(followers).toContain(browser.leaders()[0]);
    expect(browser.backend.connectionCount).toBe(1);
    browser.backend.publish({ service: 'tasks' });
    // Long enough for its heartbeat watchdog and needs refresh to have fired, had it lived.
    await vi.advanceTimersByTimeAsync(300_000);

    for (const tab of followers) expect(seqs.get(tab)).toEqual([1, 2, 3, 4]);
    expect(seqs.get(leader)).toEqual([1, 2]);
    // None of its code ran: no goodbye, no state change, no reconnect of its own.
    expect(goodbyes).toEqual([]);
    expect(leader.getState()).toBe(stateBefore);
    expect(browser.backend.connectCount).toBe(2);
    await leader.close(); // does nothing, and does not hang
    expect(leader.getState()).toBe(stateBefore);
  });

  it.each([
    ['BroadcastChannel', {}],
    ['localStorage channel', { BroadcastChannel: null }],
  ])(
    'storage lease (%s): the lease stays, the others wait takeoverMs, then take over',
    async (_what, platform) => {
      vi.useFakeTimers();
      const browser = open({
        backend: createMemoryBackend({ heartbeatMs: 60_000 }),
        defaults: { leader: { strategy: 'storage', takeoverMs: TAKEOVER_MS }, platform },
      });
      const settle = async () => {
        await vi.dynamicImportSettled();
        await vi.advanceTimersByTimeAsync(2 * TAKEOVER_MS);
      };
      const { leader, followers, seqs } = await threeTabs(browser, settle);
      const written = new Map<string, string>();
      for (let i = 0; i < browser.storage.length; i++) {
        const key = browser.storage.key(i) as string;
        if (key.endsWith(':lease')) written.set(key, browser.storage.getItem(key) as string);
      }
      expect(written.size).toBe(1);

      browser.crash(leader);
      expect(browser.backend.connectionCount).toBe(0);
      browser.backend.publish({ service: 'tasks' });
      // Nobody removed the lease: the others wait it out.
      await vi.advanceTimersByTimeAsync(TAKEOVER_MS / 2);
      for (const [key, value] of written) expect(browser.storage.getItem(key)).toBe(value);
      expect(browser.leaders()).toEqual([]);
      browser.backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(3 * TAKEOVER_MS);
      expect(browser.leaders()).toHaveLength(1);
      expect(followers).toContain(browser.leaders()[0]);
      expect(browser.backend.connectionCount).toBe(1);
      browser.backend.publish({ service: 'tasks' });
      await vi.advanceTimersByTimeAsync(60_000);

      for (const tab of followers) expect(seqs.get(tab)).toEqual([1, 2, 3, 4, 5]);
      expect(seqs.get(leader)).toEqual([1, 2]);
      expect(browser.backend.connectCount).toBe(2);
    },
  );

  it('a crashed follower hears nothing more; its pending lock request leaves the queue', async () => {
    vi.useFakeTimers();
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const { leader, followers, seqs } = await threeTabs(browser, () => vi.advanceTimersByTimeAsync(100));
    const [dead, survivor] = followers as [RealtimeClient, RealtimeClient];
    expect((await browser.locks.query()).pending).toHaveLength(2);

    browser.crash(dead);
    expect((await browser.locks.query()).pending).toHaveLength(1);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);
    // Then the leader goes: the lock goes to the survivor, never to the dead tab.
    await leader.close();
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);
    expect(browser.leaders()).toEqual([survivor]);
    browser.backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(100);

    expect(seqs.get(survivor)).toEqual([1, 2, 3, 4, 5]);
    expect(seqs.get(dead)).toEqual([1, 2]);
    expect(dead.getState().isLeader).toBe(false);
    expect(browser.tabs).toEqual([survivor]);
  });

  it('works on real timers too, and browser.close() afterwards neither throws nor hangs', async () => {
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
    const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 3000, interval: 5 });
    const tabs = [browser.tab(), browser.tab()];
    const seqs = tabs.map(record);
    await waitFor(() => expect(tabs.every((t) => t.getState().status === 'connected')).toBe(true));
    browser.backend.publish({ service: 'tasks' });
    await waitFor(() => expect(seqs).toEqual([[1], [1]]));
    const leader = browser.leaders()[0] as RealtimeClient;
    const [other] = tabs.filter((t) => t !== leader) as [RealtimeClient];

    browser.crash(leader);
    browser.backend.publish({ service: 'tasks' });
    await waitFor(() => expect(browser.leaders()).toEqual([other]));
    await waitFor(() => expect(other.getState().status).toBe('connected'));
    browser.backend.publish({ service: 'tasks' });
    await waitFor(() => expect(seqs[tabs.indexOf(other)]).toEqual([1, 2, 3]));
    expect(seqs[tabs.indexOf(leader)]).toEqual([1]);
    expect(browser.backend.connectionCount).toBe(1);
    await browser.close();
    expect(browser.tabs).toEqual([]);
    expect(browser.backend.connectionCount).toBe(0);
  });

  it('a crashed tab leaves no timer pending, so a test process on real timers can exit', async () => {
    // Its timers never fire, but while they stay armed on the real clock they
    // keep Node's event loop alive: the heartbeat watchdog's alone for 75 s.
    const armed = new Set<unknown>();
    const clock: Clock = {
      now: () => globalTimersClock.now(),
      setTimeout(fn, ms) {
        const handle = globalTimersClock.setTimeout(() => {
          armed.delete(handle);
          fn();
        }, ms);
        armed.add(handle);
        return handle;
      },
      clearTimeout(handle) {
        armed.delete(handle);
        globalTimersClock.clearTimeout(handle);
      },
    };
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 25_000 }) });
    const doomed = browser.tab({ platform: { clock } });
    record(doomed);
    await vi.waitFor(() => expect(doomed.getState().status).toBe('connected'), {
      timeout: 3000,
      interval: 5,
    });
    expect(armed.size).toBeGreaterThan(0);

    browser.crash(doomed);
    expect(armed.size).toBe(0);
    // Nor does anything that still calls into the dead tab (a test's own code).
    doomed.trackMutation('m_after_crash', { timeoutMs: 60_000 });
    expect(armed.size).toBe(0);
  });

  it.each([
    ['BroadcastChannel', {}],
    ['localStorage channel', { BroadcastChannel: null }],
  ])(
    'a tab that crashes in the task of its last act (%s): nothing of it reaches the others',
    async (_what, platform) => {
      vi.useFakeTimers();
      const browser = open({ backend: createMemoryBackend({ heartbeatMs: 60_000 }), defaults: { platform } });
      const leader = browser.tab();
      record(leader);
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(browser.leaders()).toEqual([leader]);
      const heard: unknown[] = [];
      browser
        .windowOf(leader)
        .addEventListener('storage', (event) => heard.push((event as StorageEvent).key));
      // What the others hear on the BroadcastChannel, and of what kind.
      const spy = new browser.channels.BroadcastChannel(
        channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
      );
      const kinds = new Map<string, string[]>();
      spy.onmessage = (event) => {
        const { from, type } = JSON.parse(String(event.data)) as { from: string; type: string };
        kinds.set(from, [...(kinds.get(from) ?? []), type]);
      };
      // An idle tab (no subscription) joins the tabs when it subscribes.
      const doomed = browser.tab();
      doomed.subscribe('crm', () => {});
      browser.crash(doomed);
      await vi.dynamicImportSettled();
      // Past PEER_EXPIRY_MS: the leader takes a tab unheard for that long for gone.
      await vi.advanceTimersByTimeAsync(200_000);

      // No storage write of its own (each would fire `storage` in the leader's window).
      expect(heard).toEqual([]);
      // Over a BroadcastChannel, its `hello` and `needs`, posted in
      // `subscribe` itself, left before the crash and arrive, as in a
      // browser; nothing it would have posted later does. The localStorage
      // channel loads on demand: that tab posted nothing before the crash.
      const kindsOfDoomed = kinds.get(doomed.getState().tabId) ?? [];
      expect(kindsOfDoomed.filter((type) => type !== 'hello' && type !== 'needs')).toEqual([]);
      spy.close();
      expect((await browser.locks.query()).pending).toEqual([]);
      expect(leader.getState().leader.peers).toBe(0);
    },
  );

  it.each([
    ['BroadcastChannel', {}],
    ['localStorage channel', { BroadcastChannel: null }],
  ])('a follower crashed while an event is on its way to it never gets it (%s)', async (_what, platform) => {
    vi.useFakeTimers();
    const browser = open({ backend: createMemoryBackend({ heartbeatMs: 60_000 }), defaults: { platform } });
    const settle = async () => {
      await vi.dynamicImportSettled();
      await vi.advanceTimersByTimeAsync(1_000);
    };
    const { followers, seqs } = await threeTabs(browser, settle);
    const [dead, survivor] = followers as [RealtimeClient, RealtimeClient];
    browser.backend.publish({ service: 'tasks' }); // relayed to the followers in a microtask
    browser.crash(dead);
    await settle();
    expect(seqs.get(survivor)).toEqual([1, 2, 3]);
    expect(seqs.get(dead)).toEqual([1, 2]);
  });

  it('refuses a tab that is not open', async () => {
    const browser = open();
    const tab = browser.tab();
    browser.crash(tab);
    expect(() => browser.crash(tab)).toThrow(/crash: not an open tab/);
    const closed = browser.tab();
    await closed.close();
    expect(() => browser.crash(closed)).toThrow(/not an open tab/);
  });
});
