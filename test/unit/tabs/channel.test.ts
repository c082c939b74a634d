import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelMessage } from '../../../src/tabs/channel-messages';
import { channelName } from '../../../src/tabs/channel-name';
import {
  type BroadcastChannelConstructor,
  type ChannelInvalidReason,
  type StorageLike,
  TabChannel,
  type TabChannelOptions,
} from '../../../src/tabs/tab-channel';

// The real constructor must fit the injectable type.
const _realFits: BroadcastChannelConstructor | undefined = globalThis.BroadcastChannel;
void _realFits;

const NAME = channelName('app', { orgId: 'org', userId: 'user' });

/**
 * A synchronous in-memory BroadcastChannel: delivers a structured clone to
 * every other open instance of the same name, never to the sender, like the
 * real one (minus the task hop).
 */
function createHub() {
  const open = new Set<FakeBroadcastChannel>();
  class FakeBroadcastChannel extends EventTarget {
    closed = false;
    readonly name: string;
    constructor(name: string) {
      super();
      this.name = name;
      open.add(this);
    }
    postMessage(data: unknown): void {
      if (this.closed) throw new DOMException('closed', 'InvalidStateError');
      for (const other of open) {
        if (other !== this && other.name === this.name)
          other.dispatchEvent(new MessageEvent('message', { data: structuredClone(data) }));
      }
    }
    close(): void {
      this.closed = true;
      open.delete(this);
    }
  }
  /** Posts raw data as a foreign script on the channel would. */
  const inject = (data: unknown, name = NAME): void => {
    for (const channel of open)
      if (channel.name === name) channel.dispatchEvent(new MessageEvent('message', { data }));
  };
  const messageError = (): void => {
    for (const channel of open) channel.dispatchEvent(new MessageEvent('messageerror'));
  };
  return { BroadcastChannel: FakeBroadcastChannel, open, inject, messageError };
}

/**
 * One origin's localStorage seen from several tabs: a shared map, one
 * Storage and one window per tab; a change fires `storage` on every other
 * tab's window, never on the writer's (as browsers do).
 */
function createOrigin() {
  const map = new Map<string, string>();
  const windows = new Set<EventTarget>();
  const writes: string[] = [];
  const fire = (writer: EventTarget, key: string, oldValue: string | null, newValue: string | null) => {
    for (const target of windows) {
      if (target === writer) continue;
      target.dispatchEvent(Object.assign(new Event('storage'), { key, oldValue, newValue }));
    }
  };
  const tab = () => {
    const window = new EventTarget();
    windows.add(window);
    const storage: StorageLike & { fail: boolean } = {
      fail: false,
      setItem(key, value) {
        if (this.fail) throw new DOMException('quota', 'QuotaExceededError');
        const old = map.get(key) ?? null;
        map.set(key, value);
        writes.push(value);
        fire(window, key, old, value);
      },
      removeItem(key) {
        const old = map.get(key) ?? null;
        if (old === null) return;
        map.delete(key);
        fire(window, key, old, null);
      },
    };
    return { window, storage };
  };
  const fireForeign = (key: string, newValue: string | null) => fire(new EventTarget(), key, null, newValue);
  return { map, tab, writes, fireForeign };
}

const opened: TabChannel[] = [];
/** The limit the client passes for its default `maxFrameChars` is far above this; any will do here. */
const MAX_MESSAGE_CHARS = 2 ** 20;

/** A channel that records what it receives (`received`) and what it drops (`invalid`). */
function open(
  options: Omit<TabChannelOptions, 'maxMessageChars' | 'onMessage'> & Partial<TabChannelOptions>,
): {
  channel: TabChannel;
  received: ChannelMessage[];
  invalid: ChannelInvalidReason[];
} {
  const received: ChannelMessage[] = [];
  const invalid: ChannelInvalidReason[] = [];
  const channel = new TabChannel({
    onMessage: (message) => received.push(message),
    onInvalid: (reason) => invalid.push(reason),
    maxMessageChars: MAX_MESSAGE_CHARS,
    ...options,
  });
  opened.push(channel);
  return { channel, received, invalid };
}

afterEach(() => {
  for (const channel of opened.splice(0)) channel.close();
  vi.restoreAllMocks();
});

describe('TabChannel over BroadcastChannel', () => {
  it('delivers stamped messages to the other tab, not to itself', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    expect(hub.open.size).toBe(2);
    const atA = a.received;
    const atB = b.received;
    a.channel.post({ type: 'needs', services: ['tasks'], propertyFilter: null });
    b.channel.post({ type: 'leader', leaderTabId: 'b' });
    expect(atB).toEqual([{ v: 1, from: 'a', type: 'needs', services: ['tasks'], propertyFilter: null }]);
    expect(atA).toEqual([{ v: 1, from: 'b', type: 'leader', leaderTabId: 'b' }]);
    expect(a.invalid).toEqual([]);
    expect(b.invalid).toEqual([]);
  });

  it('stamps v and from over whatever the caller passed', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    const atB = b.received;
    a.channel.post({ type: 'bye', v: 9, from: 'b' } as unknown as ChannelMessage);
    expect(atB).toEqual([{ v: 1, from: 'a', type: 'bye' }]);
  });

  it('relays frames as text or object', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    const atB = b.received;
    a.channel.post({ type: 'frame', frame: '{"type":"heartbeat","serverTime":1}' });
    a.channel.post({ type: 'frame', frame: { type: 'heartbeat', serverTime: 2 } });
    expect(atB.map((m) => (m.type === 'frame' ? m.frame : undefined))).toEqual([
      '{"type":"heartbeat","serverTime":1}',
      { type: 'heartbeat', serverTime: 2 },
    ]);
  });

  it('ignores its own messages from a second instance with the same tab id', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const again = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const atAgain = again.received;
    a.channel.post({ type: 'hello' });
    expect(atAgain).toEqual([]);
    expect(again.invalid).toEqual([]);
  });

  it('delivers a message with `to` only to the addressee', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    const c = open({ name: NAME, tabId: 'c', BroadcastChannel: hub.BroadcastChannel });
    const atB = b.received;
    const atC = c.received;
    a.channel.post({ type: 'hello', to: 'c' });
    expect(atB).toEqual([]);
    expect(atC).toEqual([{ v: 1, from: 'a', type: 'hello', to: 'c' }]);
  });

  it('keeps other orgs and users apart', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const otherOrg = open({
      name: channelName('app', { orgId: 'org2', userId: 'user' }),
      tabId: 'b',
      BroadcastChannel: hub.BroadcastChannel,
    });
    const otherUser = open({
      name: channelName('app', { orgId: 'org', userId: 'user2' }),
      tabId: 'c',
      BroadcastChannel: hub.BroadcastChannel,
    });
    const atOrg = otherOrg.received;
    const atUser = otherUser.received;
    a.channel.post({ type: 'cursor', cursor: { tasks: 1 } });
    expect(atOrg).toEqual([]);
    expect(atUser).toEqual([]);
  });

  it('close() stops delivery both ways, frees the channel and is idempotent', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    const atA = a.received;
    const atB = b.received;
    b.channel.close();
    b.channel.close();
    a.channel.post({ type: 'hello' });
    expect(() => b.channel.post({ type: 'bye' })).not.toThrow();
    hub.inject({ v: 1, from: 'x', type: 'hello' });
    expect(atB).toEqual([]);
    expect(atA).toEqual([{ v: 1, from: 'x', type: 'hello' }]);
    expect(hub.open.size).toBe(1);
    expect(b.invalid).toEqual([]);
  });

  it('ignores and reports foreign messages, which never reach listeners', () => {
    const hub = createHub();
    const b = open({
      name: NAME,
      tabId: 'b',
      BroadcastChannel: hub.BroadcastChannel,
      maxMessageChars: 10_000,
    });
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const foreign: unknown[] = [
      null,
      undefined,
      42,
      'not json',
      '"a json string"',
      '[1,2]',
      JSON.stringify({ v: 2, from: 'x', type: 'hello' }),
      { v: 2, from: 'x', type: 'hello' },
      { v: 1, from: 'x', type: 'leader', leaderTabId: 7 },
      { v: 1, from: 'x', type: 'needs', services: 'tasks', propertyFilter: null },
      { v: 1, from: 'x', type: 'unknown' },
      '{"v":1,"from":"x","type":"cursor","cursor":{"tasks":"1"},"__proto__":{"polluted":1}}',
      `{"v":1,"from":"x","type":"frame","frame":"${'y'.repeat(20_000)}"}`,
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
        },
      ),
      revocable.proxy,
    ];
    for (const data of foreign) hub.inject(data);
    hub.messageError();
    expect(b.received).toEqual([]);
    expect(b.invalid).toHaveLength(foreign.length + 1);
    expect(b.invalid.filter((reason) => reason === 'message_too_large')).toHaveLength(1);
    expect(
      b.invalid.filter((reason) => reason !== 'message_too_large').every((r) => r === 'invalid_message'),
    ).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // The channel still works after all that.
    hub.inject({ v: 1, from: 'x', type: 'hello' });
    expect(b.received).toHaveLength(1);
  });

  it('drops and reports a message over the size limit at post', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel, maxMessageChars: 200 });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: hub.BroadcastChannel });
    const atB = b.received;
    expect(() => a.channel.post({ type: 'frame', frame: 'x'.repeat(300) })).not.toThrow();
    a.channel.post({ type: 'frame', frame: 'small' });
    expect(a.invalid).toEqual(['message_too_large']);
    expect(atB).toHaveLength(1);
  });

  it('reports what cannot be serialized instead of throwing', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => a.channel.post({ type: 'frame', frame: { n: 10n } })).not.toThrow();
    expect(() => a.channel.post({ type: 'frame', frame: cyclic })).not.toThrow();
    expect(a.invalid).toEqual(['unserializable', 'unserializable']);
  });

  it('reports a throwing postMessage', () => {
    const hub = createHub();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: hub.BroadcastChannel });
    vi.spyOn(hub.BroadcastChannel.prototype, 'postMessage').mockImplementation(() => {
      throw new Error('gone');
    });
    expect(() => a.channel.post({ type: 'hello' })).not.toThrow();
    expect(a.invalid).toEqual(['post_failed']);
  });

  it('survives an onInvalid that throws', () => {
    const hub = createHub();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const listener = vi.fn();
    const b = new TabChannel({
      name: NAME,
      tabId: 'b',
      BroadcastChannel: hub.BroadcastChannel,
      maxMessageChars: MAX_MESSAGE_CHARS,
      onMessage: listener,
      onInvalid: () => {
        throw new Error('counter bug');
      },
    });
    opened.push(b);
    expect(() => hub.inject('garbage')).not.toThrow();
    hub.inject({ v: 1, from: 'x', type: 'hello' });
    expect(listener).toHaveBeenCalledTimes(1);
    expect(errors).toHaveBeenCalledTimes(1);
  });

  it('survives an onMessage that throws', () => {
    const hub = createHub();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bug = new Error('handler bug');
    const invalid: ChannelInvalidReason[] = [];
    const b = new TabChannel({
      name: NAME,
      tabId: 'b',
      BroadcastChannel: hub.BroadcastChannel,
      maxMessageChars: MAX_MESSAGE_CHARS,
      onMessage: () => {
        throw bug;
      },
      onInvalid: (reason) => invalid.push(reason),
    });
    opened.push(b);
    expect(() => hub.inject({ v: 1, from: 'x', type: 'hello' })).not.toThrow();
    expect(errors).toHaveBeenCalledWith(bug);
    // Still receiving and checking what comes.
    hub.inject('garbage');
    expect(invalid).toEqual(['invalid_message']);
  });

  it('works with the platform BroadcastChannel', async () => {
    if (typeof globalThis.BroadcastChannel !== 'function') return;
    const name = `${NAME}:${Math.random()}`;
    const a = open({ name, tabId: 'a' });
    let resolve!: (message: ChannelMessage) => void;
    const got = new Promise<ChannelMessage>((r) => {
      resolve = r;
    });
    open({ name, tabId: 'b', onMessage: (message) => resolve(message) });
    a.channel.post({ type: 'leader', leaderTabId: 'a' });
    await expect(got).resolves.toEqual({ v: 1, from: 'a', type: 'leader', leaderTabId: 'a' });
  });
});

describe('TabChannel over the storage fallback', () => {
  /** Two tabs of one origin, once the fallback's lazily loaded code has arrived. */
  async function pair() {
    const origin = createOrigin();
    const tabA = origin.tab();
    const tabB = origin.tab();
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: null, ...tabA });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: null, ...tabB });
    await vi.dynamicImportSettled();
    return { origin, a, b, tabA, tabB };
  }

  it('delivers messages through storage events and leaves no value behind', async () => {
    const { origin, a, b } = await pair();
    const atA = a.received;
    const atB = b.received;
    a.channel.post({ type: 'needs', services: ['tasks'], propertyFilter: 'p1' });
    b.channel.post({ type: 'hello', to: 'a' });
    expect(atB).toEqual([{ v: 1, from: 'a', type: 'needs', services: ['tasks'], propertyFilter: 'p1' }]);
    expect(atA).toEqual([{ v: 1, from: 'b', type: 'hello', to: 'a' }]);
    expect(origin.map.size).toBe(0);
    expect(a.invalid).toEqual([]);
    expect(b.invalid).toEqual([]);
  });

  it('delivers identical consecutive messages each time, under unique ids', async () => {
    const { origin, a, b } = await pair();
    const atB = b.received;
    a.channel.post({ type: 'hello' });
    a.channel.post({ type: 'hello' });
    a.channel.post({ type: 'hello' });
    expect(atB).toHaveLength(3);
    expect(new Set(origin.writes).size).toBe(3);
    expect(origin.writes[0]).toContain('"id":"a:1"');
  });

  it('ignores other keys and removals, reports foreign values on its key', async () => {
    const { origin, b } = await pair();
    origin.fireForeign('other-key', JSON.stringify({ id: 'x', message: { v: 1, from: 'x', type: 'hello' } }));
    origin.fireForeign(`${NAME}:msg`, null);
    expect(b.invalid).toEqual([]);
    const foreign = [
      'not json',
      '7',
      JSON.stringify({ id: 'x' }),
      JSON.stringify({ id: 'x', message: { v: 2, from: 'x', type: 'hello' } }),
      JSON.stringify({
        id: 'x',
        message: { v: 1, from: 'x', type: 'frame', frame: 'z'.repeat(2 * 1024 * 1024) },
      }),
    ];
    for (const value of foreign) origin.fireForeign(`${NAME}:msg`, value);
    expect(b.received).toEqual([]);
    expect(b.invalid).toEqual([
      'invalid_message',
      'invalid_message',
      'invalid_message',
      'invalid_message',
      'message_too_large',
    ]);
    origin.fireForeign(`${NAME}:msg`, JSON.stringify({ id: 'x', message: { v: 1, from: 'x', type: 'bye' } }));
    expect(b.received).toEqual([{ v: 1, from: 'x', type: 'bye' }]);
  });

  it('turns a throwing storage into a reported no-op, reported once', async () => {
    const { a, b, tabA } = await pair();
    const atB = b.received;
    tabA.storage.fail = true;
    expect(() => {
      a.channel.post({ type: 'hello' });
      a.channel.post({ type: 'hello' });
    }).not.toThrow();
    expect(a.invalid).toEqual(['storage_unavailable']);
    expect(atB).toEqual([]);
    // A quota error may pass: later posts still try.
    tabA.storage.fail = false;
    a.channel.post({ type: 'bye' });
    expect(atB).toEqual([{ v: 1, from: 'a', type: 'bye' }]);
  });

  it('reports once when there is no storage at all', async () => {
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: null, window: new EventTarget() });
    a.channel.post({ type: 'hello' });
    await vi.dynamicImportSettled();
    a.channel.post({ type: 'hello' });
    expect(a.invalid).toEqual(['storage_unavailable']);
  });

  it('falls back to storage when the BroadcastChannel constructor throws', async () => {
    const origin = createOrigin();
    const Throwing = class {
      constructor() {
        throw new DOMException('denied', 'SecurityError');
      }
    } as unknown as BroadcastChannelConstructor;
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: Throwing, ...origin.tab() });
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: null, ...origin.tab() });
    await vi.dynamicImportSettled();
    const atB = b.received;
    a.channel.post({ type: 'hello' });
    expect(origin.writes).toHaveLength(1);
    expect(atB).toEqual([{ v: 1, from: 'a', type: 'hello' }]);
    expect(a.invalid).toEqual([]);
  });

  it('posts made before the fallback code arrived go out once it does, in order', async () => {
    const origin = createOrigin();
    const b = open({ name: NAME, tabId: 'b', BroadcastChannel: null, ...origin.tab() });
    const atB = b.received;
    await vi.dynamicImportSettled(); // b listens
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: null, ...origin.tab() });
    a.channel.post({ type: 'hello' });
    a.channel.post({ type: 'leader', leaderTabId: 'a' });
    expect(origin.writes).toEqual([]);
    await vi.dynamicImportSettled();
    expect(atB).toEqual([
      { v: 1, from: 'a', type: 'hello' },
      { v: 1, from: 'a', type: 'leader', leaderTabId: 'a' },
    ]);
    a.channel.post({ type: 'bye' });
    expect(atB).toHaveLength(3);
  });

  it('closed before the fallback code arrived, it never writes nor listens', async () => {
    const origin = createOrigin();
    const tab = origin.tab();
    const listen = vi.spyOn(tab.window, 'addEventListener');
    const a = open({ name: NAME, tabId: 'a', BroadcastChannel: null, ...tab });
    a.channel.post({ type: 'hello' });
    a.channel.close();
    await vi.dynamicImportSettled();
    expect(origin.writes).toEqual([]);
    expect(listen).not.toHaveBeenCalled();
    expect(a.invalid).toEqual([]);
  });

  it('close() stops delivery', async () => {
    const { origin, a, b, tabB } = await pair();
    const atB = b.received;
    const unlisten = vi.spyOn(tabB.window, 'removeEventListener');
    b.channel.close();
    expect(unlisten).toHaveBeenCalledWith('storage', expect.any(Function));
    a.channel.post({ type: 'hello' });
    b.channel.post({ type: 'bye' });
    expect(atB).toEqual([]);
    expect(origin.writes).toHaveLength(1);
  });
});

describe('TabChannel without onInvalid', () => {
  it('drops invalid messages silently', () => {
    const hub = createHub();
    const listener = vi.fn();
    const b = new TabChannel({
      name: NAME,
      tabId: 'b',
      BroadcastChannel: hub.BroadcastChannel,
      maxMessageChars: MAX_MESSAGE_CHARS,
      onMessage: listener,
    });
    opened.push(b);
    expect(() => hub.inject('garbage')).not.toThrow();
    hub.inject({ v: 1, from: 'x', type: 'hello' });
    expect(listener).toHaveBeenCalledTimes(1);
  });
});
