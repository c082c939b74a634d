import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './fake-browser-each';

// subscribe() and an unsubscribe change `services`, whose state change
// reaches the app's listeners synchronously. A listener that closes the
// client there (a logout on the first realtime page, say) must leave it
// closed: the rest of that services change used to go on, so the first
// subscriber joined the election of a closed client, which then held the
// leadership for good (no other tab of the browser ever connected), and the
// last one's idle timer, armed after close() cleared it, showed `idle`.

const browser = fakeBrowserEach();

describe('close() from a state listener as the services change', () => {
  it('on the first subscribe: the client stays closed and another tab leads', async () => {
    const first = browser().tab();
    first.subscribeState((state) => {
      if (state.services.length > 0) void first.close();
    });
    first.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first.getState()).toMatchObject({ status: 'closed', isLeader: false });

    const second = browser().tab();
    second.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(second.getState()).toMatchObject({ isLeader: true, status: 'connected' });
  });

  it('on the last unsubscribe: the client stays closed past the idle grace', async () => {
    const tab = browser().tab();
    const off = tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ isLeader: true, status: 'connected' });
    tab.subscribeState((state) => {
      if (state.services.length === 0) void tab.close();
    });
    off();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tab.getState().status).toBe('closed');
  });
});
