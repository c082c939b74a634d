import { describe, expect, it, vi } from 'vitest';
import { channelName } from '../../../src/tabs/channel-name';
import { NEEDS_REFRESH_MS, PEER_EXPIRY_MS } from '../../../src/tabs/tab-coordinator';
import { fakeBrowserEach } from './fake-browser-each';

// A tab that crashes says no `bye`: the others drop it once unheard for
// PEER_EXPIRY_MS, at their next needs refresh, which then tells the client
// (`leader.peers`, the pipeline's services). The union the leader subscribes
// to drops it too, whenever it is read; a read between the expiry and the
// refresh (a subscribe or unsubscribe, a reconnect) dropped the peer without
// telling the client, and the refresh then found nothing to expire:
// `leader.peers` counted the dead tab for good (until another tab spoke).

const browser = fakeBrowserEach();

describe('the peer count after a tab crashed', () => {
  it('drops the dead tab also when the union was read first', async () => {
    const tab = browser().tab();
    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    const ghost = new (browser().channels.BroadcastChannel)(
      channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
    );
    ghost.postMessage(
      JSON.stringify({ type: 'needs', v: 1, from: 'ghost', services: ['crm'], propertyFilter: null }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(tab.getState().leader.peers).toBe(1);
    ghost.close();

    // The app changes its subscriptions now and then (each change reads the union).
    for (let t = 0; t < PEER_EXPIRY_MS + 2 * NEEDS_REFRESH_MS; t += 1_000) {
      tab.subscribe('notes', () => {})();
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(tab.getState().leader.peers).toBe(0);
    expect(tab.getState().services).toEqual(['tasks']);
  });
});
