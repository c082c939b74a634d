import { describe, expect, it } from 'vitest';
import { createRealtime } from '../../src/client';

// docs/options.md: `telemetry.url` is "checked when the client is created",
// and every bad option throws from createRealtime. The URL was only resolved
// (and so only checked) in a session the 2 % draw sampled: the same bad
// option threw in one page load out of fifty and passed in the others.

const url = 'https://api.example.com/v2/realtime';

describe('telemetry.url', () => {
  it.each([0, 1])('is checked whatever the draw (sampleRate %s)', async (sampleRate) => {
    let thrown: unknown;
    try {
      const rt = createRealtime({
        url,
        devtools: false,
        leader: { strategy: 'none' },
        telemetry: { url: 'http://[not a host', sampleRate },
      });
      await rt.close();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect((thrown as Error).message).toBe(
      'telemetry.url must be a URL, absolute or relative, got "http://[not a host"',
    );
  });
});

describe('telemetry.url on a page that is no base URL', () => {
  it('resolves the default against the realtime URL instead of throwing', async () => {
    const g = globalThis as { location?: unknown };
    const saved = Object.getOwnPropertyDescriptor(g, 'location');
    Object.defineProperty(g, 'location', { value: { href: 'about:srcdoc' }, configurable: true });
    try {
      const rt = createRealtime({
        url,
        devtools: false,
        leader: { strategy: 'none' },
        telemetry: { sampleRate: 0 },
      });
      await rt.close();
    } finally {
      if (saved) Object.defineProperty(g, 'location', saved);
      else delete g.location;
    }
  });
});
