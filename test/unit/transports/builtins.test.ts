import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../src/clock';
import { isRealtimeError, longPollTransport, sseTransport, websocketTransport } from '../../../src/index';
import { fakeWebSocketClass, recordingContext, scriptedFetch } from './fakes';

// The factories the package exports check their options at once and load
// the transport's code on the first connect (see src/transports/builtins.ts).

describe('the exported transport factories', () => {
  // The transports' own modules do not check their options again: these
  // factories are the only way the package hands them out.
  it('throw a RangeError naming the option at once, before any code loads', () => {
    expect(() => websocketTransport({ WebSocket: 42 as never })).toThrow(/WebSocket must be a constructor/);
    expect(() => websocketTransport({ WebSocket: 'nope' as never })).toThrow(/WebSocket.*nope/);
    expect(() => websocketTransport({ path: 'a?b' })).toThrow(RangeError);
    expect(() => websocketTransport({ path: 'a?b' })).toThrow(/path.*a\?b/);
    expect(() => sseTransport({ maxFrameChars: 0 })).toThrow(/maxFrameChars/);
    expect(() => sseTransport({ maxFrameChars: -1 })).toThrow(/maxFrameChars.*-1/);
    expect(() => sseTransport({ fetch: 42 as unknown as typeof fetch })).toThrow(/fetch.*42/);
    expect(() => longPollTransport({ waitSeconds: 3601 })).toThrow(/waitSeconds/);
    expect(() => longPollTransport({ waitSeconds: -1 })).toThrow(/waitSeconds.*-1/);
    expect(() => longPollTransport({ waitSeconds: 2.5 })).toThrow(RangeError);
    expect(() => longPollTransport({ fetch: {} as typeof fetch })).toThrow(/fetch/);
    expect(() => longPollTransport({ maxFrameChars: 0 })).toThrow(/maxFrameChars/);
    expect(() => longPollTransport({ maxFrameChars: 1.5 })).toThrow(/maxFrameChars.*1\.5/);
    // Read first in the poll loop, where a throw stopped the polls in silence
    // (an unhandled rejection): `clock: Date.now` for `now: Date.now`, say.
    expect(() => longPollTransport({ clock: Date.now as never })).toThrow(
      /^clock must be a Clock \{ now, setTimeout, clearTimeout \}, got /,
    );
    expect(() => longPollTransport({ clock: { now: Date.now } as never })).toThrow(RangeError);
    expect(() => longPollTransport({ clock: null as never })).toThrow(/clock.*null/);
    // A value without a prototype cannot be turned into a string; still the same RangeError.
    expect(() => websocketTransport({ path: Object.create(null) })).toThrow(
      new RangeError('path must be a URL path without query or fragment, got {}'),
    );
  });

  it('accept the options left out or valid', () => {
    expect(() => websocketTransport({ WebSocket: class {} as never, path: '/socket' })).not.toThrow();
    expect(() => sseTransport({ fetch, maxFrameChars: 1, now: Date.now })).not.toThrow();
    expect(() => longPollTransport({ fetch, waitSeconds: 0, now: Date.now })).not.toThrow();
    expect(() => longPollTransport({ waitSeconds: 3600, maxFrameChars: 1 })).not.toThrow();
    expect(() => longPollTransport({ clock: systemClock })).not.toThrow();
  });

  it('carry their name before their code is loaded', () => {
    expect([websocketTransport(), sseTransport(), longPollTransport()].map((t) => t.name)).toEqual([
      'websocket',
      'sse',
      'long-poll',
    ]);
  });

  it('connect through the real implementation once it has loaded, and load it once', async () => {
    const { WebSocket, sockets } = fakeWebSocketClass();
    const ws = websocketTransport({ WebSocket });
    ws.connect(recordingContext()).catch(() => {});
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]?.url).toMatch(/\/stream\?/);
    ws.connect(recordingContext()).catch(() => {});
    await vi.waitFor(() => expect(sockets).toHaveLength(2));

    const { fetch, calls } = scriptedFetch(() => new Response(null, { status: 401 }));
    await expect(sseTransport({ fetch }).connect(recordingContext())).rejects.toMatchObject({
      code: 'unauthorized',
    });
    await expect(longPollTransport({ fetch }).connect(recordingContext())).rejects.toMatchObject({
      code: 'unauthorized',
    });
    expect(calls).toHaveLength(2);
  });

  it('turn a failed load into transport_unavailable and load again on the next connect', async () => {
    vi.doMock('../../../src/transports/long-poll', () => {
      throw new Error('offline');
    });
    const { fetch } = scriptedFetch(() => new Response(null, { status: 401 }));
    const transport = longPollTransport({ fetch });
    const failed = await transport.connect(recordingContext()).then(
      () => 'connected',
      (error: unknown) => error,
    );
    expect(failed).toMatchObject({ code: 'transport_unavailable' });
    // The cause is vitest's error for the failed mock, made outside the test
    // file's realm under the vmThreads pool: an Error by its brand, which
    // `instanceof Error` (expect.any) cannot see across realms.
    expect(Object.prototype.toString.call((failed as { cause?: unknown }).cause)).toBe('[object Error]');
    vi.doUnmock('../../../src/transports/long-poll');
    await expect(transport.connect(recordingContext())).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('preload() starts the load; a failed one is silent and retried by connect', async () => {
    vi.doMock('../../../src/transports/sse', () => {
      throw new Error('offline');
    });
    const { fetch } = scriptedFetch(() => new Response(null, { status: 401 }));
    const transport = sseTransport({ fetch });
    transport.preload?.();
    await vi.dynamicImportSettled();
    await expect(transport.connect(recordingContext())).rejects.toMatchObject({
      code: 'transport_unavailable',
    });
    vi.doUnmock('../../../src/transports/sse');
    transport.preload?.();
    await vi.dynamicImportSettled();
    await expect(transport.connect(recordingContext())).rejects.toMatchObject({ code: 'unauthorized' });
  });
});

describe('the lazily loaded transport modules', () => {
  // They and the modules only they import. A run-time import of a module the
  // core also loads would make the bundler split that module into a chunk of
  // its own, one more file for every app: the core's values come in the kit
  // (src/transports/kit.ts) instead.
  const LAZY = [
    'websocket',
    'websocket-codes',
    'sse',
    'sse-parser',
    'long-poll',
    'poll-cursor',
    'http-request',
    'http-errors',
    'update-services',
    'welcome',
  ];

  it.each(LAZY)('%s imports only lazy modules, or types', (name) => {
    const source = readFileSync(new URL(`../../../src/transports/${name}.ts`, import.meta.url), 'utf8');
    for (const [, names, from] of source.matchAll(
      /^import\s+(?!type\s)(?:\{([^}]*)\}|\S+)\s+from\s+'([^']+)'/gm,
    )) {
      const onlyTypes = names?.split(',').every((n) => /^\s*(type\s|$)/.test(n));
      if (!onlyTypes) expect(LAZY.map((lazy) => `./${lazy}`)).toContain(from);
    }
  });

  it("make the core's RealtimeError", async () => {
    const { WebSocket } = fakeWebSocketClass();
    const error = await websocketTransport({ WebSocket })
      .connect(recordingContext({ signal: AbortSignal.abort('gone') }))
      .catch((e: unknown) => e);
    expect(isRealtimeError(error, 'closed')).toBe(true);
  });
});
