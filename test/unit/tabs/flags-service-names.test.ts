import { describe, expect, it, vi } from 'vitest';
import { record } from './epoch-helpers';
import { fakeBrowserEach } from './fake-browser-each';

// `disabledServices` takes any strings (options, setFlags, the flags URL:
// a name that is no service simply disables nothing), but the tabs' `flags`
// message only takes service names. One such entry in the flags a tab
// posted made the whole message invalid in every other tab: a kill switch
// thrown with it (`setFlags`) never left the tab that threw it, and a leader
// holding one in its flags answered every joining tab with a message that
// was dropped, its kill switch with it.

const browser = fakeBrowserEach();

const settle = () => vi.advanceTimersByTimeAsync(100);

describe('flags with a disabled "service" that is no service name', () => {
  it('still carry a kill switch thrown with them to every tab', async () => {
    const a = browser().tab();
    const b = browser().tab();
    record(a);
    record(b);
    await settle();
    expect(b.getState()).toMatchObject({ isLeader: false, status: 'connected' });

    // A follower throws the switch, with a list typed by hand.
    b.setFlags({ emergencyDisable: true, disabledServices: ['work orders'] });
    await settle();
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(browser().backend.connectionCount).toBe(0);
    expect(a.getState().counters.invalidTabMessages).toBe(0);
  });

  it("reach a tab that joins a leader holding them, with the leader's kill switch", async () => {
    const a = browser().tab({ flags: { disabledServices: [''] } });
    record(a);
    await settle();
    a.setFlags({ emergencyDisable: true });
    await settle();
    expect(a.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });

    const c = browser().tab();
    record(c);
    await settle();
    expect(c.getState().flags.emergencyDisable).toBe(true);
    expect(c.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    expect(c.getState().counters.invalidTabMessages).toBe(0);
  });
});
