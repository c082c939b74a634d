import { describe, expect, it, vi } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { parseRetryAfter } from '../../../src/transports/http-errors';
import { codeForStatus, errorFromResponse } from '../../../src/transports/http-request';
import { kit } from '../../../src/transports/kit';
import { hasContentType, unexpectedContentType } from '../../../src/transports/sse-parser';

const NOW = Date.UTC(2025, 10, 22, 12, 0, 0);

function response(status: number, body = '', headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : body, { status, headers });
}

describe('codeForStatus', () => {
  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [429, 'overloaded'],
    [503, 'overloaded'],
    [400, 'bad_request'],
    [500, 'server_error'],
    [502, 'server_error'],
    [504, 'server_error'],
    [404, 'transport_unavailable'],
    [405, 'transport_unavailable'],
    [410, 'transport_unavailable'],
    [302, 'transport_unavailable'],
  ])('maps %i to %s', (status, code) => {
    expect(codeForStatus(status, kit.refusals)).toBe(code);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
  });

  it('ignores a missing or unreadable value', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW)).toBeUndefined();
  });
});

describe('errorFromResponse', () => {
  const deps = { now: Date.now, kit };
  /** The URL a transport asked: its query may hold a token, its authority credentials. */
  const ASKED = 'https://user:secret@api.example.com/v2/realtime/stream?services=tasks&token=t0k3n';

  it('gives 401 unauthorized and 403 forbidden with the status', async () => {
    const unauthorized = await errorFromResponse(
      response(401, '{"code":"unauthorized","message":"expired"}'),
      deps,
      ASKED,
    );
    expect(unauthorized).toBeInstanceOf(RealtimeError);
    expect(unauthorized).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(unauthorized.message).toContain('expired');
    expect(await errorFromResponse(response(403), deps, ASKED)).toMatchObject({
      code: 'forbidden',
      status: 403,
    });
  });

  it('takes retryAfterMs from a JSON body before the Retry-After header', async () => {
    const error = await errorFromResponse(
      response(429, '{"retryAfterMs":1234}', { 'Retry-After': '9' }),
      deps,
      ASKED,
    );
    expect(error).toMatchObject({ code: 'overloaded', status: 429, retryAfterMs: 1234 });
  });

  it('takes retryAfterMs from Retry-After seconds or date when the body has none', async () => {
    expect(
      await errorFromResponse(response(503, 'busy', { 'Retry-After': '2' }), { now: () => NOW, kit }, ASKED),
    ).toMatchObject({
      code: 'overloaded',
      status: 503,
      retryAfterMs: 2000,
    });
    const date = new Date(NOW + 7000).toUTCString();
    expect(
      await errorFromResponse(response(429, '', { 'Retry-After': date }), { now: () => NOW, kit }, ASKED),
    ).toMatchObject({
      retryAfterMs: 7000,
    });
  });

  it('has no retryAfterMs when the server gave none', async () => {
    const error = await errorFromResponse(response(503), deps, ASKED);
    expect(error.code).toBe('overloaded');
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('ignores a negative or non-numeric body retryAfterMs', async () => {
    expect(
      (await errorFromResponse(response(429, '{"retryAfterMs":-1}', { 'Retry-After': '1' }), deps, ASKED))
        .retryAfterMs,
    ).toBe(1000);
    expect(
      (await errorFromResponse(response(429, '{"retryAfterMs":"5"}'), deps, ASKED)).retryAfterMs,
    ).toBeUndefined();
  });

  it('maps 400, other 5xx and 404/405 with their status', async () => {
    expect(await errorFromResponse(response(400), deps, ASKED)).toMatchObject({
      code: 'bad_request',
      status: 400,
    });
    expect(await errorFromResponse(response(500, 'boom'), deps, ASKED)).toMatchObject({
      code: 'server_error',
      status: 500,
    });
    expect(await errorFromResponse(response(404, 'not here'), deps, ASKED)).toMatchObject({
      code: 'transport_unavailable',
      status: 404,
    });
    expect(await errorFromResponse(response(405), deps, ASKED)).toMatchObject({
      code: 'transport_unavailable',
      status: 405,
    });
  });

  it('names the URL it asked, without its query or credentials', async () => {
    for (const status of [401, 429, 500, 404]) {
      const { message } = await errorFromResponse(response(status), deps, ASKED);
      expect(message).toMatch(
        new RegExp(`^server answered HTTP ${status} for https://api\\.example\\.com/v2/realtime/stream\\b`),
      );
      expect(message).not.toMatch(/user|secret|services|t0k3n/);
    }
  });

  it('asks whether url is the base path on a 404, in the default build only', async () => {
    const hint = "; is url the protocol's base path (e.g. …/v2/realtime)?";
    expect((await errorFromResponse(response(404), deps, ASKED)).message).toBe(
      `server answered HTTP 404 for https://api.example.com/v2/realtime/stream${hint}`,
    );
    expect((await errorFromResponse(response(405), deps, ASKED)).message).not.toContain(hint);
    vi.stubEnv('NODE_ENV', 'production');
    try {
      expect((await errorFromResponse(response(404), deps, ASKED)).message).toBe(
        'server answered HTTP 404 for https://api.example.com/v2/realtime/stream',
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('cancels the body it does not read', async () => {
    const res = response(500, 'x'.repeat(1000));
    await errorFromResponse(res, deps, ASKED);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('content type', () => {
  it('matches the media type without its parameters and case', () => {
    expect(
      hasContentType(
        response(200, '', { 'Content-Type': 'text/event-stream; charset=utf-8' }),
        'text/event-stream',
      ),
    ).toBe(true);
    expect(
      hasContentType(response(200, '', { 'Content-Type': 'Text/Event-Stream' }), 'text/event-stream'),
    ).toBe(true);
    expect(hasContentType(response(200, '', { 'Content-Type': 'text/html' }), 'text/event-stream')).toBe(
      false,
    );
    expect(hasContentType(new Response(null, { status: 200 }), 'text/event-stream')).toBe(false);
  });

  it('makes a wrong content type transport_unavailable with the status', () => {
    const error = unexpectedContentType(
      response(200, '<html>', { 'Content-Type': 'text/html' }),
      'text/event-stream',
      kit,
    );
    expect(error).toMatchObject({ code: 'transport_unavailable', status: 200 });
    expect(error.message).toContain('text/html');
  });
});
