import { afterEach, beforeEach, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import { createMemoryBackend } from '../../../src/testing/memory-backend';

/**
 * A fresh fake browser (a memory backend with 60 s heartbeats) for each test
 * of the file, on fake timers, closed after it. Call at the top level:
 * `const browser = fakeBrowserEach();`, then `browser().tab()` in a test.
 */
export function fakeBrowserEach(): () => FakeBrowser {
  let browser: FakeBrowser | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    browser = createFakeBrowser({ backend: createMemoryBackend({ heartbeatMs: 60_000 }) });
  });
  afterEach(async () => {
    await browser?.close();
    vi.useRealTimers();
  });
  return () => {
    if (!browser) throw new Error('fakeBrowserEach: the browser exists only inside a test');
    return browser;
  };
}
