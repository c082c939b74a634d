import { createRealtime, type RealtimeClient } from '../client';
import type { Clock } from '../clock';
import type { RealtimeOptions, RealtimePlatform } from '../options';
import type { Transport } from '../transports/types';
import { group } from '../util/validate';
import { type BroadcastChannelHub, createBroadcastChannelHub } from './fake-channel';
import { FakeLockManager, lockClient } from './fake-locks';
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

// Every key of FakeBrowserOptions, for the unknown-key check below.
const FAKE_BROWSER_KEYS: Record<keyof FakeBrowserOptions, true> = { backend: true, defaults: true };

/** Options of {@link FakeBrowser.tab}: `createRealtime`'s, all optional. */
export type FakeTabOptions = Partial<RealtimeOptions>;

/** A tab's `document` as tabwire reads it: `visibilityState`, and events (`visibilitychange`, `freeze`, `resume`). */
export type FakeTabDocument = NonNullable<RealtimePlatform['document']>;

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
  /**
   * The `document` of a tab: its own, `'visible'` at first (or the
   * `platform.document` it was given). Dispatch `freeze`, `resume` on it.
   */
  documentOf(tab: RealtimeClient): FakeTabDocument;
  /**
   * Sets the tab's `visibilityState` and fires `visibilitychange` on its
   * document, in this tab only (nothing when it already is in that state).
   * Throws for a tab given a `platform.document` of its own: change that one.
   */
  setVisibility(tab: RealtimeClient, state: 'hidden' | 'visible'): void;
  /**
   * Kills a tab as a crashed renderer process dies: no `pagehide`, no
   * goodbye, none of its code runs again. Its timers never fire, its
   * BroadcastChannels close (it sends and hears nothing), it hears no
   * `storage` event and writes nothing, the browser frees its Web Locks at
   * once (its lock requests never settle), its localStorage lease stays as
   * written, and its connections end: the backend sees them go, the tab
   * hears nothing of it. It leaves {@link FakeBrowser.tabs}; its handlers get
   * no more events, its `getState()` stays as it was, and its `close()` does
   * nothing. The connections cut are those of the transports given as
   * objects (the memory backend's, or yours), not the built-in ones by name.
   */
  crash(tab: RealtimeClient): void;
  /** The open tabs that lead right now. */
  leaders(): RealtimeClient[];
  /** Closes every open tab (not the crashed ones). Call it in `afterEach`. */
  close(): Promise<void>;
}

/**
 * Creates a {@link FakeBrowser} to run several tabs of one app in one test.
 *
 * @throws RangeError for a key of `options` that is no option (a misspelt
 *   one), naming it and listing the known ones.
 *
 * @example
 * const browser = createFakeBrowser();
 * const [a, b] = [browser.tab(), browser.tab()];
 * a.subscribe('tasks', onTasks);
 * b.subscribe('tasks', onTasks);
 * await vi.waitFor(() => expect(browser.backend.connectionCount).toBe(1));
 */
export function createFakeBrowser(options: FakeBrowserOptions = {}): FakeBrowser {
  // A misspelt key (`default` for `defaults`) would pass as "no options" and
  // every tab would run without the test's defaults: refused, as
  // createRealtime refuses one (TypeScript only catches it in a literal).
  group(options, '', FAKE_BROWSER_KEYS, 'a createFakeBrowser option');
  const backend = options.backend ?? createMemoryBackend();
  const locks = new FakeLockManager();
  const channels = createBroadcastChannelHub();
  const data = new Map<string, string>();
  const tabs = new Map<RealtimeClient, Tab>();

  /** Like browsers: a write fires `storage` in every OTHER window of the origin, as a task. */
  const storageView = (own: Tab | undefined) =>
    new MemoryStorage({
      data,
      onChange: (change: StorageChange) => {
        const targets = [...tabs.values()].filter((t) => t !== own);
        queueMicrotask(() => {
          for (const target of targets) {
            if (!target.dead) target.window.dispatchEvent(Object.assign(new Event('storage'), change));
          }
        });
      },
    });
  const storage = storageView(undefined);

  const open = (tab: RealtimeClient, what: string): Tab => {
    const state = tabs.get(tab);
    if (!state) throw new Error(`${what}: not an open tab of this fake browser`);
    return state;
  };

  const browser: FakeBrowser = {
    backend,
    locks,
    channels,
    storage,
    get tabs() {
      return [...tabs.keys()];
    },
    tab(tabOptions = {}) {
      const window = tabOptions.platform?.window ?? new EventTarget();
      const document = new TabDocument();
      const tab: Tab = { window, document, dead: false, onCrash: new Set() };
      const ownLocks = lockClient(locks);
      tab.onCrash.add(ownLocks.crash);
      const given = { ...options.defaults?.platform, ...tabOptions.platform };
      const platform: RealtimePlatform = {
        locks: ownLocks.locks,
        BroadcastChannel: channels.BroadcastChannel,
        storage: mortalStorage(storageView(tab), tab),
        window,
        document,
        navigator: { onLine: true },
        clock: globalTimersClock,
        wallClock: () => Date.now(),
        ...given,
      };
      platform.clock = mortalClock(platform.clock ?? globalTimersClock, tab);
      if (typeof platform.BroadcastChannel === 'function') {
        platform.BroadcastChannel = mortalChannel(platform.BroadcastChannel as ChannelConstructor, tab);
      }
      const transports = tabOptions.transports ?? options.defaults?.transports ?? [backend.transport];
      const client = createRealtime({
        url: 'http://tabwire.test/v2/realtime',
        scope: { orgId: 'org_test', userId: 'u_1' }, // the memory backend's default org
        devtools: false,
        idleGraceMs: 0,
        telemetry: { sampleRate: 0 },
        ...options.defaults,
        ...tabOptions,
        transports: transports.map((t) => (typeof t === 'string' ? t : mortalTransport(t, tab))),
        platform,
      });
      tab.document = platform.document ?? globalThis.document;
      tabs.set(client, tab);
      const close = client.close.bind(client);
      client.close = async () => {
        if (tab.dead) return; // a dead tab runs no code
        tabs.delete(client);
        await close();
      };
      return client;
    },
    windowOf(tab) {
      return open(tab, 'windowOf').window;
    },
    documentOf(tab) {
      const { document } = open(tab, 'documentOf');
      if (!document) throw new Error('documentOf: this tab has no document (platform.document: undefined)');
      return document;
    },
    setVisibility(tab, state) {
      const document = open(tab, 'setVisibility').document;
      if (!(document instanceof TabDocument)) {
        throw new Error(
          'setVisibility: this tab was given a platform.document of its own; set its visibilityState and dispatch visibilitychange on it',
        );
      }
      if (document.visibilityState === state) return;
      document.visibilityState = state;
      document.dispatchEvent(new Event('visibilitychange'));
    },
    crash(tab) {
      const state = open(tab, 'crash');
      tabs.delete(tab);
      state.dead = true;
      for (const cut of state.onCrash) cut();
      state.onCrash.clear();
    },
    leaders() {
      return [...tabs.keys()].filter((t) => t.getState().isLeader);
    },
    async close() {
      await Promise.all([...tabs.keys()].map((t) => t.close()));
    },
  };
  return browser;
}

/** What the fake browser keeps of an open tab. */
interface Tab {
  window: EventTarget;
  /** Its own {@link TabDocument}, or the document it was given (none in Node, given `undefined`). */
  document: FakeTabDocument | undefined;
  /** Crashed: none of its code may run again. */
  dead: boolean;
  /** What the browser tears down when the tab dies. */
  readonly onCrash: Set<() => void>;
}

/** A tab's own document: every tab falling back to the global one would be hidden or shown all at once. */
class TabDocument extends EventTarget {
  visibilityState: 'hidden' | 'visible' = 'visible';

  get hidden(): boolean {
    return this.visibilityState === 'hidden';
  }
}

/**
 * The tab's clock, whose timers never fire once the tab died. The crash
 * clears them on the underlying clock too, and a dead tab arms none: a timer
 * that only would not fire still keeps a Node test process alive until it
 * runs out (the heartbeat watchdog's, 75 s).
 */
function mortalClock(clock: Clock, tab: Tab): Clock {
  const armed = new Set<unknown>();
  tab.onCrash.add(() => {
    for (const handle of armed) clock.clearTimeout(handle);
    armed.clear();
  });
  return {
    now: () => clock.now(),
    setTimeout(fn, ms) {
      if (tab.dead) return undefined;
      const handle = clock.setTimeout(() => {
        armed.delete(handle);
        if (!tab.dead) fn();
      }, ms);
      armed.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      // Only what this tab armed and has not fired: never a dead tab's dummy handle.
      if (armed.delete(handle)) clock.clearTimeout(handle);
    },
  };
}

/** The tab's `localStorage`: a dead tab writes nothing (its lease stays as written). */
function mortalStorage(storage: MemoryStorage, tab: Tab): MemoryStorage {
  const write =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      if (!tab.dead) fn.apply(storage, args);
    };
  storage.setItem = write(storage.setItem);
  storage.removeItem = write(storage.removeItem);
  storage.clear = write(storage.clear);
  return storage;
}

interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
}
type ChannelConstructor = new (name: string) => ChannelLike;

/** The tab's BroadcastChannel constructor: its channels close when the tab dies, and post nothing after. */
function mortalChannel(Base: ChannelConstructor, tab: Tab): ChannelConstructor {
  const open = new Set<ChannelLike>();
  tab.onCrash.add(() => {
    for (const channel of open) Base.prototype.close.call(channel);
  });
  return class extends Base {
    constructor(name: string) {
      super(name);
      if (tab.dead) Base.prototype.close.call(this);
      else open.add(this);
    }
    override postMessage(message: unknown): void {
      if (!tab.dead) super.postMessage(message);
    }
    override close(): void {
      open.delete(this);
      super.close();
    }
  };
}

/**
 * The tab's door to a transport: when the tab dies its connections end (the
 * server sees them go, by their signal) and nothing more reaches the tab.
 */
function mortalTransport(transport: Transport, tab: Tab): Transport {
  const never = <T>() => new Promise<T>(() => {});
  return {
    name: transport.name,
    connect(ctx) {
      if (tab.dead) return never();
      const abort = new AbortController();
      const cut = () => abort.abort(new DOMException('The tab crashed.', 'AbortError'));
      tab.onCrash.add(cut);
      const end = () => {
        tab.onCrash.delete(cut);
        abort.abort(ctx.signal.reason);
      };
      if (ctx.signal.aborted) end();
      else ctx.signal.addEventListener('abort', end, { once: true });
      return transport
        .connect({
          ...ctx,
          signal: abort.signal,
          onFrame: (frame) => {
            if (!tab.dead) ctx.onFrame(frame);
          },
          onClose: (reason) => {
            if (!tab.dead) ctx.onClose(reason);
          },
        })
        .then(
          (connection) => (tab.dead ? never() : connection),
          (error: unknown) => (tab.dead ? never() : Promise.reject(error)),
        );
    },
  };
}
