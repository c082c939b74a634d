import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { record, settle } from './epoch-helpers';

// Found by the delivery model. A tab back from idle keeps the cursors it
// had (no handler relies on them) until the leader answers its hello with
// the browser's. A batch relayed before that answer continued past its old
// cursor: a gap, whose events are dropped for the replay to bring. The
// answer then moved the cursor past them, and the event published right
// after the handler subscribed never reached it (no gap left, no resync).

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

describe('a tab back from idle', () => {
  it('gets an event published right after it subscribes again', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const { backend } = browser;
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    const off = b.subscribe('tasks', () => {});
    await settle();
    backend.publish({ service: 'tasks' });
    await settle();
    off();
    await settle();
    expect(b.getState()).toMatchObject({ status: 'idle', cursor: { tasks: 1 } });
    // Published while b is idle: not owed to it.
    backend.publish({ service: 'tasks' });
    await settle();

    const seqs = record(b);
    backend.publish({ service: 'tasks' });
    await settle();
    backend.publish({ service: 'tasks' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(seqs).toEqual([3, 4]);
  });
});
