import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeError } from '../../../src/errors';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { record, settle } from './epoch-helpers';

// Found by a review of the message texts: the leader posts its `lastError`
// as `${code}: ${message}`, and a follower made its `forbidden` error from
// that whole text, so its state read `forbidden: forbidden: …` and its
// `forbidden` event's message carried a `forbidden: ` the leader's had not.

let browser: FakeBrowser;
beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await browser.close();
  vi.useRealTimers();
});

describe('a forbidden connection, seen from a follower', () => {
  it('shows the same lastError and event message as in the leader', async () => {
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 600_000 }) });
    const a = browser.tab();
    record(a);
    await settle();
    const b = browser.tab();
    record(b);
    await settle();
    expect(a.getState().isLeader).toBe(true);
    const heard: Record<string, string> = {};
    a.on('forbidden', (error: RealtimeError) => {
      heard.a = error.message;
    });
    b.on('forbidden', (error: RealtimeError) => {
      heard.b = error.message;
    });

    browser.backend.sendRaw({ type: 'error', code: 'forbidden', message: 'org deleted' });
    await settle();

    expect(heard).toEqual({ a: 'org deleted', b: 'org deleted' });
    for (const tab of [a, b]) {
      expect(tab.getState()).toMatchObject({
        status: 'disabled',
        disabledReason: 'forbidden',
        lastError: 'forbidden: org deleted',
      });
    }
  });
});
