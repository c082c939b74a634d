import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import {
  type LeaderChange,
  LeaderElection,
  type LeaderElectionOptions,
  type LockManagerLike,
  type StorageLike,
} from '../../../src/tabs/leader-election';
import { CLAIM_SETTLE_MS } from '../../../src/tabs/storage-lease-election';

// ---- fakes ---------------------------------------------------------------

interface LockRequest {
  readonly owner: object;
  readonly callback: (lock: unknown) => Promise<void>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One browser's Web Locks for several tabs: exclusive locks granted in
 * request order, aborts reject a pending request with `AbortError`, and
 * `crash(tab)` frees what a dead tab held the way the browser does.
 */
class FakeLockManager {
  readonly #held = new Map<string, LockRequest>();
  readonly #queues = new Map<string, LockRequest[]>();
  /** Every `request` call, for assertions on the options. */
  readonly calls: { name: string; options: { mode: string; ifAvailable: boolean } }[] = [];

  /** The lock manager as one tab sees it. */
  forTab(): LockManagerLike & { readonly owner: object } {
    const owner = {};
    return {
      owner,
      request: (name, options, callback) => {
        this.calls.push({ name, options: { mode: options.mode, ifAvailable: options.ifAvailable } });
        return new Promise<unknown>((resolve, reject) => {
          if (options.signal.aborted) {
            reject(new DOMException('aborted', 'AbortError'));
            return;
          }
          const request: LockRequest = { owner, callback, resolve, reject };
          options.signal.addEventListener('abort', () => {
            const queue = this.#queues.get(name) ?? [];
            const index = queue.indexOf(request);
            if (index < 0) return; // granted already: abort does nothing then
            queue.splice(index, 1);
            reject(new DOMException('aborted', 'AbortError'));
          });
          const queue = this.#queues.get(name) ?? [];
          queue.push(request);
          this.#queues.set(name, queue);
          this.#grant(name);
        });
      },
    };
  }

  /** Pending (not granted) requests on `name`. */
  pending(name: string): number {
    return this.#queues.get(name)?.length ?? 0;
  }

  /** The owner holding `name`. */
  holder(name: string): object | undefined {
    return this.#held.get(name)?.owner;
  }

  /** The tab died: its held lock is freed and its pending requests vanish. */
  crash(tab: { readonly owner: object }): void {
    for (const [name, queue] of this.#queues) {
      this.#queues.set(
        name,
        queue.filter((request) => request.owner !== tab.owner),
      );
    }
    for (const [name, request] of this.#held) {
      if (request.owner === tab.owner) {
        this.#held.delete(name);
        this.#grant(name);
      }
    }
  }

  #grant(name: string): void {
    if (this.#held.has(name)) return;
    const next = this.#queues.get(name)?.shift();
    if (next === undefined) return;
    this.#held.set(name, next);
    // Granted asynchronously, as in the browser.
    queueMicrotask(() => {
      if (this.#held.get(name) !== next) return; // crashed before the grant ran
      let result: Promise<void>;
      try {
        result = next.callback({ name, mode: 'exclusive' });
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (value) => this.#finish(name, next, () => next.resolve(value)),
        (error: unknown) => this.#finish(name, next, () => next.reject(error)),
      );
    });
  }

  #finish(name: string, request: LockRequest, settle: () => void): void {
    if (this.#held.get(name) === request) {
      this.#held.delete(name);
      this.#grant(name);
    }
    settle();
  }
}

/** A localStorage shared by the tabs of one test; each method can be made to throw. */
class MemoryStorage implements StorageLike {
  readonly map = new Map<string, string>();
  throwOnGet = false;
  throwOnSet = false;
  throwOnRemove = false;
  writes = 0;

  getItem(key: string): string | null {
    if (this.throwOnGet) throw new DOMException('denied', 'SecurityError');
    return this.map.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    if (this.throwOnSet) throw new DOMException('full', 'QuotaExceededError');
    this.writes += 1;
    this.map.set(key, value);
  }

  removeItem(key: string): void {
    if (this.throwOnRemove) throw new DOMException('denied', 'SecurityError');
    this.map.delete(key);
  }
}

interface Handle {
  readonly fn: () => void;
  inner: ReturnType<typeof setTimeout> | undefined;
  cancelled: boolean;
}

/**
 * One tab's clock over vitest's fake timers. `freeze()` holds the timers
 * that fall due (a frozen background tab), `thaw()` runs them late, `kill()`
 * stops them for good (a dead tab).
 */
class TabClock implements Clock {
  #frozen = false;
  #dead = false;
  readonly #held: Handle[] = [];

  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle: Handle = { fn, inner: undefined, cancelled: false };
    handle.inner = globalThis.setTimeout(() => {
      if (handle.cancelled || this.#dead) return;
      if (this.#frozen) this.#held.push(handle);
      else fn();
    }, ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    const h = handle as Handle;
    h.cancelled = true;
    globalThis.clearTimeout(h.inner);
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
    for (const handle of this.#held.splice(0)) if (!handle.cancelled && !this.#dead) handle.fn();
  }

  kill(): void {
    this.#dead = true;
  }
}

/**
 * The channel's leader announcements between tabs (synchronous delivery):
 * what one tab's `beat` sends, every other tab's `heardLeader` hears.
 */
class HeartbeatBus {
  readonly #elections = new Map<string, LeaderElection>();
  sent = 0;

  /** The `beat` option of tab `tabId`. */
  beatOf(tabId: string): () => void {
    return () => {
      this.sent += 1;
      for (const [other, election] of this.#elections) if (other !== tabId) election.heardLeader(tabId);
    };
  }

  /** A storage tab on this bus. */
  tab(id: string, options: Partial<LeaderElectionOptions> = {}): Tab {
    const tab = makeTab(id, { ...options, beat: this.beatOf(id) });
    this.#elections.set(id, tab.election);
    return tab;
  }
}

// ---- helpers -------------------------------------------------------------

const NAME = 'tabwire:app:org_1:u_1';
const KEY = `${NAME}:lease`;
const TAKEOVER = 3000;
const TICK = TAKEOVER / 3;

interface Tab {
  readonly id: string;
  readonly election: LeaderElection;
  readonly clock: TabClock;
  readonly changes: LeaderChange[];
}

function makeTab(id: string, options: Partial<LeaderElectionOptions> = {}): Tab {
  const clock = new TabClock();
  const changes: LeaderChange[] = [];
  const election = new LeaderElection({
    name: NAME,
    tabId: id,
    strategy: 'storage',
    takeoverMs: TAKEOVER,
    clock,
    onChange: (change) => changes.push(change),
    ...options,
  });
  return { id, election, clock, changes };
}

/**
 * What the election reports (a lock request refused, lease code that failed
 * to load): it hands it to reportListenerError, so to the platform's
 * `reportError`, stubbed here until the test ends.
 */
function reported() {
  const onError = vi.fn();
  vi.stubGlobal('reportError', onError);
  return onError;
}

function leaders(tabs: readonly Tab[]): string[] {
  return tabs.filter((tab) => tab.election.isLeader).map((tab) => tab.id);
}

/** The leader's id as the tab last heard it (the election's `onChange`). */
function leaderOf(tab: Tab): string | undefined {
  return tab.changes.at(-1)?.leaderTabId;
}

/** Lets the lazily loaded lease code arrive: `start()` of a storage election loads it with import(). */
async function loaded(): Promise<void> {
  await vi.dynamicImportSettled();
}

/** Starts the tabs' elections, in order, and waits for the lease code. */
async function startAll(tabs: readonly Tab[]): Promise<void> {
  for (const tab of tabs) tab.election.start();
  await loaded();
}

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** Advances in steps, asserting there is never more than one leader. */
async function advanceWatching(tabs: readonly Tab[], ms: number, step = 10): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += step) {
    await advance(step);
    expect(leaders(tabs).length).toBeLessThanOrEqual(1);
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

// ---- options -------------------------------------------------------------

describe('LeaderElection options', () => {
  // name, tabId, strategy and takeoverMs come from the client, which checked
  // what the user gave (options.ts).
  const base: LeaderElectionOptions = {
    name: NAME,
    tabId: 't1',
    strategy: 'storage',
    takeoverMs: TAKEOVER,
    clock: new TabClock(),
  };

  it('rejects strategy "locks" where no lock manager exists', () => {
    vi.stubGlobal('navigator', {});
    expect(() => new LeaderElection({ ...base, strategy: 'locks' })).toThrow(RangeError);
  });

  it('accepts takeoverMs 100', () => {
    expect(() => new LeaderElection({ ...base, takeoverMs: 100 })).not.toThrow();
  });

  it('accepts the real LockManager type', () => {
    // Type-level: the DOM's LockManager must satisfy LockManagerLike.
    const assign = (real: LockManager): LockManagerLike => real;
    expect(typeof assign).toBe('function');
  });
});

// ---- locks ---------------------------------------------------------------

describe('strategy locks', () => {
  function lockTabs(count: number) {
    const manager = new FakeLockManager();
    const tabs = Array.from({ length: count }, (_, i) => {
      const locks = manager.forTab();
      return { ...makeTab(`t${i + 1}`, { strategy: 'locks', locks }), locks };
    });
    return { manager, tabs, onError: reported() };
  }

  it('elects exactly one leader among 5 tabs, with one pending exclusive request each', async () => {
    const { manager, tabs } = lockTabs(5);
    for (const tab of tabs) tab.election.start();
    await advance(0);
    expect(leaders(tabs)).toEqual(['t1']);
    expect(manager.pending(NAME)).toBe(4);
    expect(manager.calls).toHaveLength(5);
    for (const call of manager.calls)
      expect(call).toEqual({ name: NAME, options: { mode: 'exclusive', ifAvailable: false } });
    expect(leaderOf(tabs[0] as Tab)).toBe('t1');
    expect(leaderOf(tabs[1] as Tab)).toBeUndefined();
    expect(tabs.map((tab) => tab.election.electionsWon)).toEqual([1, 0, 0, 0, 0]);
  });

  it('reports an onChange that throws, and leads all the same', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bug = new Error('listener bug');
    const tab = makeTab('t1', {
      strategy: 'locks',
      locks: new FakeLockManager().forTab(),
      onChange: () => {
        throw bug;
      },
    });
    expect(() => tab.election.start()).not.toThrow();
    await advance(0);
    expect(tab.election.isLeader).toBe(true);
    expect(errors).toHaveBeenCalledWith(bug);
    await expect(tab.election.stop()).resolves.toBeUndefined();
    expect(tab.election.isLeader).toBe(false);
    errors.mockRestore();
  });

  it('hands over at once when the leader stops (no timer needed)', async () => {
    const { manager, tabs } = lockTabs(3);
    for (const tab of tabs) tab.election.start();
    await advance(0);
    const [t1, t2] = tabs;
    if (t1 === undefined || t2 === undefined) throw new Error('setup');
    const stopped = t1.election.stop();
    expect(t1.election.isLeader).toBe(false);
    await stopped;
    await Promise.resolve();
    expect(leaders(tabs)).toEqual(['t2']);
    expect(manager.holder(NAME)).toBe(t2.locks.owner);
    expect(t1.changes).toEqual([{ isLeader: true, leaderTabId: 't1' }, { isLeader: false }]);
    expect(t2.changes).toEqual([{ isLeader: true, leaderTabId: 't2' }]);
  });

  it('hands over at once when the leader tab dies', async () => {
    const { manager, tabs } = lockTabs(3);
    for (const tab of tabs) tab.election.start();
    await advance(0);
    const [t1, t2] = tabs;
    if (t1 === undefined || t2 === undefined) throw new Error('setup');
    manager.crash(t1.locks);
    await Promise.resolve();
    await Promise.resolve();
    expect(t2.election.isLeader).toBe(true);
  });

  it('aborts the pending request of a follower that stops, without reporting an error', async () => {
    const { manager, tabs, onError } = lockTabs(2);
    for (const tab of tabs) tab.election.start();
    await advance(0);
    const t2 = tabs[1];
    if (t2 === undefined) throw new Error('setup');
    await t2.election.stop();
    expect(manager.pending(NAME)).toBe(0);
    expect(onError).not.toHaveBeenCalled();
    // Restarting queues again and wins once the leader leaves.
    t2.election.start();
    expect(manager.pending(NAME)).toBe(1);
    await tabs[0]?.election.stop();
    await advance(0);
    expect(t2.election.isLeader).toBe(true);
    expect(t2.election.electionsWon).toBe(1);
  });

  it('reports a request that fails for another reason', async () => {
    const failing: LockManagerLike = { request: () => Promise.reject(new Error('SecurityError')) };
    const onError = reported();
    const tab = makeTab('t1', { strategy: 'locks', locks: failing });
    tab.election.start();
    await advance(0);
    expect(onError).toHaveBeenCalledWith(new Error('SecurityError'));
    expect(tab.election.isLeader).toBe(false);
  });

  it('does not join the storage lease for a failure other than a refusal', async () => {
    // Beside tabs that hold or wait for the lock, a lease of its own (which
    // they never write) would make this tab a second leader. Only a refusal
    // (SecurityError: Web Locks denied to the whole origin) joins the lease.
    const failing: LockManagerLike = {
      request: () => Promise.reject(new DOMException('not fully active', 'InvalidStateError')),
    };
    const storage = new MemoryStorage();
    reported();
    const tab = makeTab('t1', { strategy: 'locks', locks: failing, storage });
    tab.election.start();
    await loaded();
    await advance(TAKEOVER * 3);
    expect(tab.election.isLeader).toBe(false);
    expect(storage.writes).toBe(0);
  });

  it('lets the caller tell a follower who leads', async () => {
    const { tabs } = lockTabs(2);
    for (const tab of tabs) tab.election.start();
    await advance(0);
    const [t1, t2] = tabs;
    if (t1 === undefined || t2 === undefined) throw new Error('setup');
    t2.election.heardLeader('t1');
    expect(leaderOf(t2)).toBe('t1');
    expect(t2.changes).toEqual([{ isLeader: false, leaderTabId: 't1' }]);
    t1.election.heardLeader('t9'); // a leader knows better
    expect(leaderOf(t1)).toBe('t1');
    t2.election.heardLeader('t2'); // its own id: not news
    expect(leaderOf(t2)).toBe('t1');
    await t2.election.stop();
    t2.election.heardLeader('t1'); // stopped: ignored
    expect(t2.changes).toEqual([{ isLeader: false, leaderTabId: 't1' }, { isLeader: false }]);
  });

  it('counts every election won', async () => {
    const { tabs } = lockTabs(1);
    const tab = tabs[0];
    if (tab === undefined) throw new Error('setup');
    for (let i = 0; i < 3; i++) {
      tab.election.start();
      await advance(0);
      await tab.election.stop();
    }
    expect(tab.election.electionsWon).toBe(3);
  });
});

// ---- storage -------------------------------------------------------------

describe('strategy storage', () => {
  function storageTabs(
    count: number,
    storage = new MemoryStorage(),
    extra: Partial<LeaderElectionOptions> = {},
  ) {
    const tabs = Array.from({ length: count }, (_, i) => makeTab(`t${i + 1}`, { storage, ...extra }));
    return { storage, tabs };
  }

  function lease(storage: MemoryStorage): unknown {
    const raw = storage.map.get(KEY);
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  it('a lone tab claims at once, after the settle delay', async () => {
    const { storage, tabs } = storageTabs(1);
    await startAll(tabs);
    expect(tabs[0]?.election.isLeader).toBe(false);
    await advance(CLAIM_SETTLE_MS);
    expect(leaders(tabs)).toEqual(['t1']);
    expect(lease(storage)).toEqual({ tabId: 't1', nonce: expect.any(String), v: 1 });
  });

  it('elects exactly one leader among 5 tabs started together, and keeps it', async () => {
    const { tabs } = storageTabs(5);
    await startAll(tabs);
    await advanceWatching(tabs, CLAIM_SETTLE_MS);
    expect(leaders(tabs)).toHaveLength(1);
    const [leader] = leaders(tabs);
    await advanceWatching(tabs, TAKEOVER * 10);
    expect(leaders(tabs)).toEqual([leader]);
    for (const tab of tabs) expect(leaderOf(tab)).toBe(leader);
    expect(tabs.reduce((sum, tab) => sum + tab.election.electionsWon, 0)).toBe(1);
  });

  it('elects one leader among 5 tabs started at staggered times', async () => {
    const { tabs } = storageTabs(5);
    for (const tab of tabs) {
      await startAll([tab]);
      await advance(17);
    }
    await advanceWatching(tabs, TAKEOVER * 5);
    expect(leaders(tabs)).toEqual(['t1']);
  });

  it('two claimants racing within the settle delay end with one leader: the last writer', async () => {
    const storage = new MemoryStorage();
    // t2's first read misses t1's fresh write (another process, not yet visible),
    // so both claim: the true race.
    let hideOnce = true;
    const lagging: StorageLike = {
      getItem: (key) => {
        if (hideOnce) {
          hideOnce = false;
          return null;
        }
        return storage.getItem(key);
      },
      setItem: (key, value) => storage.setItem(key, value),
      removeItem: (key) => storage.removeItem(key),
    };
    const t1 = makeTab('t1', { storage });
    const t2 = makeTab('t2', { storage: lagging });
    const tabs = [t1, t2];
    await startAll([t1]);
    await advance(CLAIM_SETTLE_MS - 10);
    await startAll([t2]);
    await advanceWatching(tabs, CLAIM_SETTLE_MS);
    expect(leaders(tabs)).toEqual(['t2']);
    expect(t1.changes).toEqual([{ isLeader: false, leaderTabId: 't2' }]);
    await advanceWatching(tabs, TAKEOVER * 3);
    expect(leaders(tabs)).toEqual(['t2']);
    expect(t1.election.electionsWon + t2.election.electionsWon).toBe(1);
  });

  it('a leader that finds another tab’s lease steps down', async () => {
    const { storage, tabs } = storageTabs(1);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    storage.map.set(KEY, JSON.stringify({ tabId: 'other', nonce: 'n', v: 1 }));
    await advance(TICK);
    expect(tabs[0]?.election.isLeader).toBe(false);
    expect(leaderOf(tabs[0] as Tab)).toBe('other');
  });

  it('hands over within one poll interval (+ settle) when the leader stops', async () => {
    const { storage, tabs } = storageTabs(3);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS + TICK / 2);
    const [first] = leaders(tabs);
    const leader = tabs.find((tab) => tab.id === first);
    await leader?.election.stop();
    expect(storage.map.has(KEY)).toBe(false);
    await advanceWatching(tabs, TICK + CLAIM_SETTLE_MS);
    expect(leaders(tabs)).toHaveLength(1);
    expect(leaders(tabs)).not.toContain(first);
  });

  it('takes over a dead leader after takeoverMs, not before, within takeoverMs + one poll (+ settle)', async () => {
    const { tabs } = storageTabs(3);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    const dead = tabs.find((tab) => tab.election.isLeader);
    if (dead === undefined) throw new Error('setup');
    await advance(TAKEOVER);
    dead.clock.kill();
    const others = tabs.filter((tab) => tab !== dead);
    await advanceWatching(others, TAKEOVER - TICK);
    expect(leaders(others)).toEqual([]);
    await advanceWatching(others, 2 * TICK + CLAIM_SETTLE_MS);
    expect(leaders(others)).toHaveLength(1);
  });

  it.each([
    ['unparsable', '{not json'],
    ['a JSON string', '"t9"'],
    ['null', 'null'],
    ['the wrong shape', JSON.stringify({ holder: 't9' })],
    ['another version', JSON.stringify({ tabId: 't9', nonce: 'n', v: 2 })],
    ['an empty tab id', JSON.stringify({ tabId: '', nonce: 'n', v: 1 })],
  ])('treats %s as no leader and overwrites it', async (_what, raw) => {
    const { storage, tabs } = storageTabs(1);
    storage.map.set(KEY, raw);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    expect(tabs[0]?.election.isLeader).toBe(true);
    expect(lease(storage)).toEqual({ tabId: 't1', nonce: expect.any(String), v: 1 });
  });

  it('a follower replaces a lease corrupted under it at its next poll', async () => {
    const { storage, tabs } = storageTabs(2);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    const [leader, follower] = [...tabs].sort((a) => (a.election.isLeader ? -1 : 1));
    leader?.clock.kill();
    storage.map.set(KEY, 'garbage');
    await advance(TICK + CLAIM_SETTLE_MS);
    expect(follower?.election.isLeader).toBe(true);
  });

  it('renews the lease with a fresh nonce every takeoverMs / 3 and beats on the channel', async () => {
    const bus = new HeartbeatBus();
    const storage = new MemoryStorage();
    const tab = bus.tab('t1', { storage });
    await startAll([tab]);
    await advance(CLAIM_SETTLE_MS);
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      seen.add(storage.map.get(KEY) ?? '');
      await advance(TICK);
    }
    expect(seen.size).toBe(5);
    expect(bus.sent).toBe(6); // one on winning, one per renewal
  });

  it('a follower whose timers were frozen does not steal from a live leader when they run late', async () => {
    const { tabs } = storageTabs(2);
    const [t1, t2] = tabs;
    if (t1 === undefined || t2 === undefined) throw new Error('setup');
    await startAll([t1]);
    await advance(CLAIM_SETTLE_MS);
    await startAll([t2]);
    await advance(TICK * 2);
    // The whole browser sleeps; the follower wakes first.
    t1.clock.freeze();
    t2.clock.freeze();
    await advance(TAKEOVER * 10);
    t2.clock.thaw();
    expect(t2.election.isLeader).toBe(false);
    t1.clock.thaw(); // the leader renews at once
    await advanceWatching(tabs, TAKEOVER * 3);
    expect(leaders(tabs)).toEqual(['t1']);
    expect(t2.election.electionsWon).toBe(0);
    expect(t2.changes).toEqual([{ isLeader: false, leaderTabId: 't1' }]);
  });

  it('a leader frozen beyond takeoverMs is replaced, and steps down when it resumes', async () => {
    const { tabs } = storageTabs(2);
    const [t1, t2] = tabs;
    if (t1 === undefined || t2 === undefined) throw new Error('setup');
    await startAll([t1]);
    await advance(CLAIM_SETTLE_MS);
    await startAll([t2]);
    t1.clock.freeze();
    await advance(TAKEOVER + TICK + CLAIM_SETTLE_MS);
    expect(t2.election.isLeader).toBe(true);
    t1.clock.thaw();
    expect(leaders(tabs)).toEqual(['t2']);
    expect(t1.changes.at(-1)).toEqual({ isLeader: false, leaderTabId: 't2' });
  });

  it('ignores Date.now jumps in either direction', async () => {
    const { tabs } = storageTabs(3);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    const before = leaders(tabs);
    const counts = tabs.map((tab) => tab.changes.length);
    const perf = performance.now();
    vi.setSystemTime(Date.now() + 3_600_000);
    await advanceWatching(tabs, TAKEOVER * 2);
    vi.setSystemTime(Date.now() - 7_200_000);
    await advanceWatching(tabs, TAKEOVER * 2);
    expect(performance.now() - perf).toBe(TAKEOVER * 4);
    expect(leaders(tabs)).toEqual(before);
    expect(tabs.map((tab) => tab.changes.length)).toEqual(counts);
  });

  it('stop removes only our own lease', async () => {
    const { storage, tabs } = storageTabs(1);
    await startAll(tabs);
    await advance(CLAIM_SETTLE_MS);
    storage.map.set(KEY, JSON.stringify({ tabId: 'other', nonce: 'n', v: 1 }));
    await tabs[0]?.election.stop();
    expect(storage.map.has(KEY)).toBe(true);
  });

  it('counts elections won across stop/start', async () => {
    const { tabs } = storageTabs(1);
    const tab = tabs[0];
    if (tab === undefined) throw new Error('setup');
    for (let i = 0; i < 2; i++) {
      await startAll([tab]);
      await advance(CLAIM_SETTLE_MS);
      await tab.election.stop();
    }
    expect(tab.election.electionsWon).toBe(2);
    expect(tab.changes).toEqual([
      { isLeader: true, leaderTabId: 't1' },
      { isLeader: false },
      { isLeader: true, leaderTabId: 't1' },
      { isLeader: false },
    ]);
  });

  describe('throwing storage', () => {
    it('leads alone after takeoverMs when no peer can be seen', async () => {
      const storage = new MemoryStorage();
      storage.throwOnGet = true;
      storage.throwOnSet = true;
      storage.throwOnRemove = true;
      const tab = makeTab('t1', { storage });
      await startAll([tab]);
      await advance(TAKEOVER - TICK);
      expect(tab.election.isLeader).toBe(false);
      await advance(TICK);
      expect(tab.election.isLeader).toBe(true);
      await expect(tab.election.stop()).resolves.toBeUndefined();
    });

    it('with heartbeats, exactly one tab leads and the others follow its beats', async () => {
      const storage = new MemoryStorage();
      storage.throwOnGet = true;
      storage.throwOnSet = true;
      const bus = new HeartbeatBus();
      const tabs = ['t3', 't1', 't2'].map((id) => bus.tab(id, { storage }));
      await startAll(tabs);
      await advanceWatching(tabs, TAKEOVER * 5);
      expect(leaders(tabs)).toHaveLength(1);
    });

    it('when only writes fail, tabs listen for beats for takeoverMs, then one leads without flapping', async () => {
      const storage = new MemoryStorage();
      storage.throwOnSet = true;
      const bus = new HeartbeatBus();
      const tabs = ['t2', 't1'].map((id) => bus.tab(id, { storage }));
      await startAll(tabs);
      // No claim can be written: an empty key proves nothing, so nobody leads at once.
      await advanceWatching(tabs, TAKEOVER - TICK);
      expect(leaders(tabs)).toEqual([]);
      await advanceWatching(tabs, TICK);
      expect(leaders(tabs)).toHaveLength(1);
      const [leader] = leaders(tabs);
      await advanceWatching(tabs, TAKEOVER * 5);
      // No flapping: the empty key does not tempt the other tab while the leader beats.
      expect(leaders(tabs)).toEqual([leader]);
      expect(tabs.reduce((sum, tab) => sum + tab.election.electionsWon, 0)).toBe(1);
    });
  });

  it('a follower hearing peer beats does not take over even when the lease stops changing', async () => {
    const storage = new MemoryStorage();
    storage.map.set(KEY, JSON.stringify({ tabId: 'remote', nonce: 'n', v: 1 }));
    const bus = new HeartbeatBus();
    const remote = bus.beatOf('remote');
    const tab = bus.tab('t1', { storage });
    await startAll([tab]);
    for (let i = 0; i < 10; i++) {
      await advance(TICK);
      remote();
    }
    expect(tab.election.isLeader).toBe(false);
    expect(leaderOf(tab)).toBe('remote');
    // No beats from now on: the unchanged lease is taken over after takeoverMs.
    await advance(TAKEOVER - 1);
    expect(tab.election.isLeader).toBe(false);
    await advance(TICK + CLAIM_SETTLE_MS);
    expect(tab.election.isLeader).toBe(true);
  });
});
