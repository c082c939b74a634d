import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import type { LeaderChange, LeaderElectionOptions, LockManagerLike } from '../../../src/tabs/leader-election';
import * as fallbackModule from '../../../src/tabs/storage-channel';
import * as leaseModule from '../../../src/tabs/storage-lease-election';
import type { ChannelInvalidReason, TabChannelOptions } from '../../../src/tabs/tab-channel';

// The storage lease (storage-lease-election.ts) and the channel's storage
// fallback (storage-channel.ts) are loaded with import() only where they
// run. Each test gets a fresh module graph (so what it loads, and what a
// mocked module does, is its own); the lazy modules are mocked with their
// real exports (imported above) where a test counts their loads.

const LEASE = '../../../src/tabs/storage-lease-election';
const FALLBACK = '../../../src/tabs/storage-channel';
const NAME = 'tabwire:v1:app:org:user';
const KEY = `${NAME}:leader:lease`;

/** Counts the loads of `path`, which are given `exports`, its real exports. */
function spyOnLoad(path: string, exports: object): { count: number } {
  const loads = { count: 0 };
  vi.doMock(path, () => {
    loads.count++;
    return exports;
  });
  return loads;
}

/** Makes every load of `path` fail, as a chunk gone after a deploy would. */
function failLoad(path: string): void {
  vi.doMock(path, () => {
    throw new Error('chunk gone');
  });
}

class MemoryStorage {
  readonly map = new Map<string, string>();
  writes = 0;
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.writes++;
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

const clock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A lock manager that grants every request at once (one tab). */
const grantingLocks: LockManagerLike = {
  request: (_name, _options, callback) => callback({}),
};

async function election(options: Partial<LeaderElectionOptions> = {}) {
  const { LeaderElection } = await import('../../../src/tabs/leader-election');
  const storage = new MemoryStorage();
  // The election reports through reportListenerError, to the platform's reportError.
  const onError = vi.fn();
  vi.stubGlobal('reportError', onError);
  const changes: LeaderChange[] = [];
  const election = new LeaderElection({
    name: `${NAME}:leader`,
    tabId: 't1',
    strategy: 'storage',
    takeoverMs: 300,
    clock,
    storage,
    onChange: (change) => changes.push(change),
    ...options,
  });
  return { election, storage, onError, changes };
}

async function channel(options: Partial<TabChannelOptions> = {}) {
  const { TabChannel } = await import('../../../src/tabs/tab-channel');
  const invalid: ChannelInvalidReason[] = [];
  const storage = new MemoryStorage();
  const window = new EventTarget();
  const tabChannel = new TabChannel({
    name: NAME,
    tabId: 'a',
    BroadcastChannel: null,
    storage,
    window,
    maxMessageChars: 2 ** 20,
    onMessage: () => {},
    onInvalid: (reason) => invalid.push(reason),
    ...options,
  });
  return { channel: tabChannel, invalid, storage, window };
}

beforeEach(() => {
  vi.resetModules();
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});

afterEach(() => {
  vi.doUnmock(LEASE);
  vi.doUnmock(FALLBACK);
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('the storage lease, loaded on demand', () => {
  it('is not loaded for the locks strategy', async () => {
    const loads = spyOnLoad(LEASE, leaseModule);
    const locks = await election({ strategy: 'locks', locks: grantingLocks });
    locks.election.start();
    await vi.dynamicImportSettled();
    expect(locks.election.isLeader).toBe(true);
    expect(loads.count).toBe(0);
  });

  it('is loaded once started under storage, not at construction', async () => {
    vi.stubGlobal('navigator', {});
    try {
      const loads = spyOnLoad(LEASE, leaseModule);
      const tab = await election({ strategy: 'storage' });
      await vi.dynamicImportSettled();
      expect(loads.count).toBe(0);
      tab.election.start();
      expect(tab.election.isLeader).toBe(false);
      await vi.dynamicImportSettled();
      expect(loads.count).toBe(1);
      await vi.advanceTimersByTimeAsync(50); // the claim settles
      expect(tab.changes).toEqual([{ isLeader: true, leaderTabId: 't1' }]);
      expect(tab.storage.map.has(KEY)).toBe(true);
      await tab.election.stop();
      expect(tab.storage.map.has(KEY)).toBe(false);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('stop() before the code arrived: no lease is ever written, no timer left', async () => {
    const tab = await election();
    tab.election.start();
    await tab.election.stop();
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(3000);
    expect(tab.storage.writes).toBe(0);
    expect(tab.changes).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('start, stop, start while loading runs exactly one lease', async () => {
    const tab = await election();
    tab.election.start();
    void tab.election.stop();
    tab.election.start();
    await vi.dynamicImportSettled();
    expect(tab.storage.writes).toBe(1); // one claim
    await vi.advanceTimersByTimeAsync(50);
    expect(tab.election.isLeader).toBe(true);
    await vi.advanceTimersByTimeAsync(100); // one tick: one renewal
    expect(tab.storage.writes).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    expect(tab.election.electionsWon).toBe(1);
  });

  it('ignores leader announcements while the code loads, hands them to the lease after', async () => {
    const tab = await election();
    tab.storage.map.set(KEY, JSON.stringify({ tabId: 't2', nonce: 'n', v: 1 }));
    tab.election.start();
    tab.election.heardLeader('t3');
    expect(tab.changes).toEqual([]);
    await vi.dynamicImportSettled();
    expect(tab.changes).toEqual([{ isLeader: false, leaderTabId: 't2' }]);
    tab.election.heardLeader('t3'); // the lease follows whoever announces itself
    expect(tab.changes.at(-1)).toEqual({ isLeader: false, leaderTabId: 't3' });
  });

  it('a failed load is reported and the tab leads alone, as where storage is unusable', async () => {
    failLoad(LEASE);
    const tab = await election();
    tab.election.start();
    await vi.dynamicImportSettled();
    expect(tab.onError).toHaveBeenCalledTimes(1);
    expect(tab.changes).toEqual([{ isLeader: true, leaderTabId: 't1' }]);
    expect(tab.election.electionsWon).toBe(1);
    await expect(tab.election.stop()).resolves.toBeUndefined();
    expect(tab.election.isLeader).toBe(false);
  });

  it('a load that fails after stop() changes nothing', async () => {
    failLoad(LEASE);
    const tab = await election();
    tab.election.start();
    await tab.election.stop();
    await vi.dynamicImportSettled();
    expect(tab.onError).not.toHaveBeenCalled();
    expect(tab.changes).toEqual([]);
  });
});

describe('the channel storage fallback, loaded on demand', () => {
  it('is not loaded where BroadcastChannel works', async () => {
    const loads = spyOnLoad(FALLBACK, fallbackModule);
    const posted: unknown[] = [];
    class Recording extends EventTarget {
      postMessage(message: unknown): void {
        posted.push(message);
      }
      close(): void {}
    }
    const { channel: tabChannel, storage } = await channel({ BroadcastChannel: Recording });
    tabChannel.post({ type: 'hello' });
    expect(posted).toHaveLength(1);
    await vi.dynamicImportSettled();
    expect(loads.count).toBe(0);
    expect(storage.writes).toBe(0);
  });

  it('is loaded where BroadcastChannel is missing', async () => {
    const loads = spyOnLoad(FALLBACK, fallbackModule);
    const { channel: tabChannel, storage } = await channel();
    tabChannel.post({ type: 'hello' });
    expect(storage.writes).toBe(0);
    await vi.dynamicImportSettled();
    expect(loads.count).toBe(1);
    expect(storage.writes).toBe(1);
  });

  it('a failed load is reported once as storage_unavailable; posts are dropped, nothing throws', async () => {
    failLoad(FALLBACK);
    const { channel: tabChannel, invalid, storage } = await channel();
    tabChannel.post({ type: 'hello' });
    await vi.dynamicImportSettled();
    expect(() => tabChannel.post({ type: 'bye' })).not.toThrow();
    expect(invalid).toEqual(['storage_unavailable']);
    expect(storage.writes).toBe(0);
    tabChannel.close();
  });

  it('a failed load after close() is not reported', async () => {
    failLoad(FALLBACK);
    const { channel: tabChannel, invalid } = await channel();
    tabChannel.close();
    await vi.dynamicImportSettled();
    expect(invalid).toEqual([]);
  });
});
