// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelMessage } from '../../../src/tabs/channel-messages';
import { channelName } from '../../../src/tabs/channel-name';
import { TabChannel } from '../../../src/tabs/tab-channel';

const NAME = channelName('app', { orgId: 'org', userId: 'user' });

describe('TabChannel defaults in a DOM', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('falls back to window.localStorage and window storage events when BroadcastChannel is missing', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    const invalid: string[] = [];
    const received: ChannelMessage[] = [];
    const channel = new TabChannel({
      name: NAME,
      tabId: 'b',
      maxMessageChars: 2 ** 20,
      onMessage: (message) => received.push(message),
      onInvalid: (reason) => invalid.push(reason),
    });
    await vi.dynamicImportSettled(); // the fallback's code

    // What another tab's write looks like here: a real StorageEvent on window.
    const newValue = JSON.stringify({ id: 'a:1', message: { v: 1, from: 'a', type: 'hello' } });
    window.dispatchEvent(new StorageEvent('storage', { key: `${NAME}:msg`, newValue }));
    window.dispatchEvent(new StorageEvent('storage', { key: `${NAME}:msg`, newValue: null }));
    window.dispatchEvent(new StorageEvent('storage', { key: 'unrelated', newValue: '{}' }));
    expect(received).toEqual([{ v: 1, from: 'a', type: 'hello' }]);

    // Its own post goes through localStorage and leaves nothing behind.
    const setItem = vi.spyOn(Storage.prototype, 'setItem');
    channel.post({ type: 'bye' });
    expect(setItem).toHaveBeenCalledWith(`${NAME}:msg`, expect.stringContaining('"type":"bye"'));
    expect(localStorage.getItem(`${NAME}:msg`)).toBeNull();
    expect(invalid).toEqual([]);

    channel.close();
    window.dispatchEvent(new StorageEvent('storage', { key: `${NAME}:msg`, newValue }));
    expect(received).toHaveLength(1);
  });
});
