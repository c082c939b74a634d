import { describe, expect, it } from 'vitest';
import { createRealtime } from '../../src/client';
import type { RealtimeOptions } from '../../src/options';

// fetch refuses a URL with a user name or password ("Request cannot be
// constructed from a URL that includes credentials") when the request is
// made: createRealtime accepted such a URL, and realtime (SSE, long-poll,
// update-services), telemetry or the flags poll failed later with an error
// naming no option. They are refused up front, without the secret in the
// message.

const url = 'https://api.example.com/v2/realtime';

async function rangeError(options: Partial<RealtimeOptions>): Promise<string> {
  let thrown: unknown;
  try {
    const rt = createRealtime({ url, devtools: false, leader: { strategy: 'none' }, ...options });
    await rt.close();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(RangeError);
  const { message } = thrown as Error;
  expect(message).not.toContain('secret');
  return message;
}

const expected = (field: string, shown: string) =>
  `${field} must be a URL without credentials, got "${shown}"`;

describe('URLs with credentials', () => {
  it('refuses them in url, masked', async () => {
    // A token is often the user name: both parts are masked.
    for (const url of [
      'https://user:secret@api.example.com/rt',
      'https://secret@api.example.com/rt',
      'https://:secret@api.example.com/rt',
    ]) {
      expect(await rangeError({ url })).toBe(expected('url', 'https://***:***@api.example.com/rt'));
    }
  });

  it('refuses them in telemetry.url, absolute or relative', async () => {
    for (const sampleRate of [0, 1]) {
      expect(await rangeError({ telemetry: { url: 'https://u:secret@t.example.com/c', sampleRate } })).toBe(
        expected('telemetry.url', 'https://***:***@t.example.com/c'),
      );
      expect(await rangeError({ telemetry: { url: '//u:secret@t.example.com/c', sampleRate } })).toBe(
        expected('telemetry.url', 'https://***:***@t.example.com/c'),
      );
    }
  });

  it('refuses them in flagsUrl, as a string or { url }', async () => {
    expect(await rangeError({ flagsUrl: 'https://u:secret@f.example.com/f' })).toBe(
      expected('flagsUrl.url', 'https://***:***@f.example.com/f'),
    );
    expect(await rangeError({ flagsUrl: { url: 'https://u:secret@f.example.com/f' } })).toBe(
      expected('flagsUrl.url', 'https://***:***@f.example.com/f'),
    );
  });

  it('accepts an @ that is no credential', async () => {
    const rt = createRealtime({
      url: 'https://api.example.com/v2/realtime?for=a@b',
      devtools: false,
      leader: { strategy: 'none' },
      telemetry: { url: '/t/@me' },
      flagsUrl: 'https://f.example.com/flags/@me',
    });
    await rt.close();
  });
});
