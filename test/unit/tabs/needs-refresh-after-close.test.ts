import { describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/clock';
import { channelName } from '../../../src/tabs/channel-name';
import { NEEDS_REFRESH_MS, PEER_EXPIRY_MS } from '../../../src/tabs/tab-coordinator';
import { globalTimersClock } from '../../../src/testing/fake-browser';
import { fakeBrowserEach } from './fake-browser-each';

// The coordinator re-announces this tab's needs every NEEDS_REFRESH_MS and
// expires peers it has not heard of. When a peer expires it tells the client
// (needsChanged), whose state change reaches the app's listeners
// synchronously. A listener that closes the client there stops the
// coordinator from inside the refresh callback, which then re-arms itself.
// The callback used to find the coordinator stopped (`!this.#channel`) and
// end; without that check the timer re-arms itself every 10 s for the rest
// of the page's life after close().

const browser = fakeBrowserEach();

describe('the needs refresh timer', () => {
  it('stops for good when a statechange listener closes the client as a peer expires', async () => {
    let closed = false;
    const refreshTimersAfterClose: number[] = [];
    // The global timers, counting the refresh timers armed once the client is closed.
    const clock: Clock = {
      ...globalTimersClock,
      setTimeout: (fn, ms) => {
        if (closed && ms === NEEDS_REFRESH_MS) refreshTimersAfterClose.push(Date.now());
        return globalTimersClock.setTimeout(fn, ms);
      },
    };
    const tab = browser().tab({ platform: { clock } });
    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ isLeader: true, status: 'connected' });

    // A tab that announces its needs once, then crashes without a `bye`.
    const ghost = new (browser().channels.BroadcastChannel)(
      channelName('tabwire', { orgId: 'org_test', userId: 'u_1' }),
    );
    ghost.postMessage(
      JSON.stringify({ type: 'needs', v: 1, from: 'ghost', services: ['crm'], propertyFilter: null }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(tab.getState().leader.peers).toBe(1);
    ghost.close();

    // The app closes realtime once it is alone (any close from a state listener will do).
    tab.on('statechange', (state) => {
      if (state.leader.peers === 0 && !closed) {
        closed = true;
        void tab.close();
      }
    });
    await vi.advanceTimersByTimeAsync(PEER_EXPIRY_MS + NEEDS_REFRESH_MS);
    expect(closed).toBe(true);
    expect(tab.getState().status).toBe('closed');

    // A minute and a half later: at most the one timer armed inside the
    // callback that closed the client, which then found it stopped.
    await vi.advanceTimersByTimeAsync(9 * NEEDS_REFRESH_MS);
    expect(refreshTimersAfterClose.length).toBeLessThanOrEqual(1);
  });
});
