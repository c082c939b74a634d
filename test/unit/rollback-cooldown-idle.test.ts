import { describe, expect, it, vi } from 'vitest';
import { fakeBrowserEach } from './tabs/fake-browser-each';

// A rollback cooldown that ended while the tab was idle (nothing
// subscribed: no SLI tick) was noticed by the gate (here re-applied by a
// flags message), which cleared the trip without a word: the tab left
// `disabled` while `getState().rollback` kept saying `tripped`, for as long
// as it stayed idle (an active tab's welcome or 10 s tick tell the guard's
// next verdict).

const browser = fakeBrowserEach();

describe('a rollback cooldown that ends while the tab idles', () => {
  it('shows the trip ended as soon as the gate lets the tab back', async () => {
    const tab = browser().tab({ rollback: { minSamples: 1, cooldownMs: 60_000 } });
    const unsubscribe = tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    browser().backend.sendRaw('garbage');
    await vi.advanceTimersByTimeAsync(100);
    expect(tab.getState()).toMatchObject({ status: 'disabled', rollback: { state: 'tripped' } });

    unsubscribe();
    await vi.advanceTimersByTimeAsync(120_000);
    tab.setFlags({ shadowMode: true });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tab.getState()).toMatchObject({ status: 'idle', rollback: { state: 'ok' } });

    tab.subscribe('tasks', () => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getState()).toMatchObject({ status: 'connected', rollback: { state: 'ok' } });
  });
});
