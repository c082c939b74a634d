import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBroadcastChannelHub, MemoryStorage } from '../../../src/testing';

afterEach(() => {
  vi.useRealTimers();
});

describe('createBroadcastChannelHub', () => {
  it('delivers a clone to every other open channel of the name, asynchronously, never to the sender', async () => {
    const hub = createBroadcastChannelHub();
    const a = new hub.BroadcastChannel('n');
    const b = new hub.BroadcastChannel('n');
    const c = new hub.BroadcastChannel('n');
    const other = new hub.BroadcastChannel('other');
    const got: Array<[string, unknown]> = [];
    for (const [label, ch] of [
      ['a', a],
      ['b', b],
      ['other', other],
    ] as const) {
      ch.addEventListener('message', (e) => got.push([label, (e as MessageEvent).data]));
    }
    c.onmessage = (e) => got.push(['c (onmessage)', e.data]);
    const message = { hello: ['world'] };
    a.postMessage(message);
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual([
      ['b', message],
      ['c (onmessage)', message],
    ]);
    expect(got[0]?.[1]).not.toBe(message);
    expect(hub.openChannels('n')).toBe(3);
    expect(hub.posted).toBe(1);
  });

  it('stops delivering to a closed channel, and refuses posts from one', async () => {
    const hub = createBroadcastChannelHub();
    const a = new hub.BroadcastChannel('n');
    const b = new hub.BroadcastChannel('n');
    const got: unknown[] = [];
    b.addEventListener('message', (e) => got.push((e as MessageEvent).data));
    a.postMessage(1);
    b.close(); // closed before delivery: the message is not delivered
    await Promise.resolve();
    expect(got).toEqual([]);
    expect(() => b.postMessage(2)).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    expect(hub.openChannels()).toBe(1);
  });

  it('keeps two hubs (two browsers) apart', async () => {
    const one = createBroadcastChannelHub();
    const two = createBroadcastChannelHub();
    const a = new one.BroadcastChannel('n');
    const b = new two.BroadcastChannel('n');
    const got: unknown[] = [];
    b.addEventListener('message', (e) => got.push((e as MessageEvent).data));
    a.postMessage('x');
    await Promise.resolve();
    expect(got).toEqual([]);
  });

  it('refuses what cannot be cloned', () => {
    const hub = createBroadcastChannelHub();
    const a = new hub.BroadcastChannel('n');
    expect(() => a.postMessage(() => {})).toThrow();
  });

  it('delivers under fake timers', async () => {
    vi.useFakeTimers();
    const hub = createBroadcastChannelHub();
    const a = new hub.BroadcastChannel('n');
    const b = new hub.BroadcastChannel('n');
    const got: unknown[] = [];
    b.addEventListener('message', (e) => got.push((e as MessageEvent).data));
    a.postMessage('x');
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual(['x']);
  });
});

describe('MemoryStorage', () => {
  it('behaves like localStorage and reports changes', () => {
    const changes: unknown[] = [];
    const storage = new MemoryStorage({ onChange: (c) => changes.push(c) });
    expect(storage.getItem('k')).toBeNull();
    storage.setItem('k', 'v');
    storage.setItem('k', 'v'); // no change, no report
    storage.setItem('n', String(1));
    expect(storage.length).toBe(2);
    expect(storage.key(0)).toBe('k');
    expect(storage.key(5)).toBeNull();
    storage.removeItem('k');
    storage.removeItem('k');
    storage.clear();
    expect(storage.length).toBe(0);
    expect(changes).toEqual([
      { key: 'k', oldValue: null, newValue: 'v' },
      { key: 'n', oldValue: null, newValue: '1' },
      { key: 'k', oldValue: 'v', newValue: null },
      { key: null, oldValue: null, newValue: null },
    ]);
  });

  it('shares data between views', () => {
    const data = new Map<string, string>();
    const a = new MemoryStorage({ data });
    const b = new MemoryStorage({ data });
    a.setItem('k', 'v');
    expect(b.getItem('k')).toBe('v');
  });
});
