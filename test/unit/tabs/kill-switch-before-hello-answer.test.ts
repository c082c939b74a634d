import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { record, settle } from './epoch-helpers';

// Found by the delivery model. A tab that subscribes (new, or back from
// idle) takes the leader's answer to its hello as its cursor: no handler
// relies on the one it has. A kill switch thrown in it before that answer
// came turns it off at once, while the leader, not told yet, still relays:
// the tab drops those events, off being off. The answer then moved its
// cursor past them, and the `sync` once the switch lifted found nothing
// missing: its handler, subscribed before they were published, never got them.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

describe('a kill switch thrown in a tab before the leader answered its hello', () => {
  it.each([
    ['back from idle', true],
    ['new', false],
  ])('does not skip what was relayed meanwhile (a tab %s)', async (_, wasActive) => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    if (wasActive) {
      const off = b.subscribe('notes', () => {});
      await settle();
      off();
      await settle();
      expect(b.getState()).toMatchObject({ status: 'idle', cursor: { tasks: 0 } });
    }

    const seqs = record(b);
    b.setFlags({ emergencyDisable: true });
    // Before the switch and b's hello reach the leader: relayed while b is off.
    backend.publish({ service: 'tasks' });
    await settle();
    expect(a.getState()).toMatchObject({ status: 'disabled', cursor: { tasks: 1 } });
    expect(b.getState().status).toBe('disabled');

    b.setFlags({ emergencyDisable: false });
    await vi.advanceTimersByTimeAsync(1_000);
    backend.publish({ service: 'tasks' });
    await settle();
    expect(seqs).toEqual([1, 2]);
  });
});
