import { createRealtime, type RealtimeClient } from '../client';
import type { Clock } from '../clock';
import type { RealtimeOptions, RealtimePlatform } from '../options';
import { type BroadcastChannelHub, createBroadcastChannelHub } from './fake-channel';
import { FakeLockManager } from './fake-locks';
import { createMemoryBackend, type MemoryBackend } from './memory-backend';
import { MemoryStorage, type StorageChange } from './memory-storage';

/**
 * A clock on `Date.now()` and the global timers, looked up at each call, so
 * `vi.useFakeTimers()` (called before or after) drives every tab.
 */
export const globalTimersClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Options of {@link createFakeBrowser}. */
export interface FakeBrowserOptions {
  /** The server every tab connects to; default a new {@link createMemoryBackend}. */
  backend?: MemoryBackend;
  /** Options every tab gets (a tab's own options win). */
  defaults?: Partial<RealtimeOptions>;
}

/** Options of {@link FakeBrowser.tab}: `createRealtime`'s, all optional. */
export type FakeTabOptions = Partial<RealtimeOptions>;

/**
 * One browser, in memory: the tabs it opens share a lock manager, a
 * BroadcastChannel hub and a `localStorage`, and each has its own `window`
 * (an `EventTarget`) where the others' storage writes arrive as `storage`
 * events. Everything is delivered in microtasks and timed with the global
 * timers, so it runs under `vi.useFakeTimers()` too.
 */
export interface FakeBrowser {
  /** The server (the memory backend) the tabs connect to. */
  readonly backend: MemoryBackend;
  /** The browser's `navigator.locks`. */
  readonly locks: FakeLockManager;
  /** The browser's BroadcastChannels. */
  readonly channels: BroadcastChannelHub;
  /** The origin's `localStorage` (writes here fire `storage` events in every tab). */
  readonly storage: MemoryStorage;
  /** Open tabs, oldest first (a closed tab leaves the list). */
  readonly tabs: readonly RealtimeClient[];
  /**
   * Opens a tab: `createRealtime` with the memory backend's transport,
   * `devtools: false`, `idleGraceMs: 0`, `telemetry: { sampleRate: 0 }` (a
   * test should not send SLI reports because of a 2 % draw), and `platform` wired to this
   * browser (locks, BroadcastChannel, storage, a window of its own, the
   * global-timers clock). Anything in `options` wins, `platform` key by key.
   */
  tab(options?: FakeTabOptions): RealtimeClient;
  /** The `window` of a tab (dispatch `pagehide`, `online`, … on it). */
  windowOf(tab: RealtimeClient): EventTarget;
  /** The open tabs that lead right now. */
  leaders(): RealtimeClient[];
  /** Closes every tab. Call it in `afterEach`. */
  close(): Promise<void>;
}

/**
 * Creates a {@link FakeBrowser} to run several tabs of one app in one test.
 *
 * @example
 * const browser = createFakeBrowser();
 * const [a, b] = [browser.tab(), browser.tab()];
 * a.subscribe('tasks', onTasks);
 * b.subscribe('tasks', onTasks);
 * await vi.waitFor(() => expect(browser.backend.connectionCount).toBe(1));
 */
export function createFakeBrowser(options: FakeBrowserOptions = {}): FakeBrowser {
  const backend = options.backend ?? createMemoryBackend();
  const locks = new FakeLockManager();
  const channels = createBroadcastChannelHub();
  const data = new Map<string, string>();
  const windows = new Map<RealtimeClient, EventTarget>();

  /** Like browsers: a write fires `storage` in every OTHER window of the origin, as a task. */
  const storageView = (own: EventTarget | undefined) =>
    new MemoryStorage({
      data,
      onChange: (change: StorageChange) => {
        const targets = [...windows.values()].filter((w) => w !== own);
        queueMicrotask(() => {
          for (const target of targets) {
            target.dispatchEvent(Object.assign(new Event('storage'), change));
          }
        });
      },
    });
  const storage = storageView(undefined);

  const browser: FakeBrowser = {
    backend,
    locks,
    channels,
    storage,
    get tabs() {
      return [...windows.keys()];
    },
    tab(tabOptions = {}) {
      const window = tabOptions.platform?.window ?? new EventTarget();
      const platform: RealtimePlatform = {
        locks,
        BroadcastChannel: channels.BroadcastChannel,
        storage: storageView(window),
        window,
        navigator: { onLine: true },
        clock: globalTimersClock,
        wallClock: () => Date.now(),
        ...options.defaults?.platform,
        ...tabOptions.platform,
      };
      const client = createRealtime({
        url: 'http://tabwire.test/v2/realtime',
        scope: { orgId: 'org_test', userId: 'u_1' }, // the memory backend's default org
        transports: [backend.transport],
        devtools: false,
        idleGraceMs: 0,
        telemetry: { sampleRate: 0 },
        ...options.defaults,
        ...tabOptions,
        platform,
      });
      windows.set(client, window);
      const close = client.close.bind(client);
      client.close = async () => {
        windows.delete(client);
        await close();
      };
      return client;
    },
    windowOf(tab) {
      const window = windows.get(tab);
      if (!window) throw new Error('windowOf: not an open tab of this fake browser');
      return window;
    },
    leaders() {
      return [...windows.keys()].filter((t) => t.getState().isLeader);
    },
    async close() {
      await Promise.all([...windows.keys()].map((t) => t.close()));
    },
  };
  return browser;
}
