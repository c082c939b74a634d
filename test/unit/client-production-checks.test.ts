import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import type { RealtimeOptions } from '../../src/options';
import { createMemoryBackend, type MemoryBackend } from '../../src/testing/memory-backend';
import { memoryOptions } from './react/helpers';

// docs/options.md: the `production` build (NODE_ENV "production") leaves out
// the checks that only catch a mistake in the app's code: here the client's
// method arguments and the URL checks whose result is not used. What keeps
// delivery whole (service names, the property filter), the flags and a
// closed client stay checked. The expression is read at call time, so
// stubbing the environment switches the checks.

let backend: MemoryBackend;
const clients: RealtimeClient[] = [];

function client(extra: Partial<RealtimeOptions> = {}): RealtimeClient {
  const rt = createRealtime(memoryOptions(backend, extra));
  clients.push(rt);
  return rt;
}

beforeEach(() => {
  vi.useFakeTimers();
  backend = createMemoryBackend({ heartbeatMs: 60_000 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((rt) => rt.close()));
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

const notAFunction = 'not a function' as unknown as () => void;

describe('method arguments only an app bug gets wrong', () => {
  it('refuses a handler or listener that is no function in the default build', () => {
    const rt = client();
    expect(() => rt.subscribe('tasks', notAFunction)).toThrow(
      new TypeError('handler must be a function, got "not a function"'),
    );
    expect(() => rt.on('error', notAFunction)).toThrow(
      new TypeError('listener must be a function, got "not a function"'),
    );
  });

  it('takes them in the production build; the bad handler fails alone, as one that throws', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const rt = client();
    const errors: unknown[] = [];
    rt.on('error', (error) => errors.push(error));
    expect(() => rt.on('gap', notAFunction)).not.toThrow();
    expect(() => rt.subscribe('tasks', notAFunction)).not.toThrow();
    const seqs: number[] = [];
    rt.subscribe('tasks', (events) => seqs.push(...events.map((e) => e.seq)));
    await vi.advanceTimersByTimeAsync(0);
    expect(rt.getState().status).toBe('connected');
    backend.publish({ service: 'tasks' });
    backend.publish({ service: 'tasks' });
    expect(seqs).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(rt.getState().counters.handlerErrors).toBe(2);
  });
});

describe('URLs with credentials', () => {
  const credentials: Partial<RealtimeOptions>[] = [
    { url: 'https://user:secret@api.example.com/rt' },
    { telemetry: { sampleRate: 0, url: 'https://u:secret@t.example.com/c' } },
    { flagsUrl: 'https://u:secret@f.example.com/f' },
  ];

  it.each(credentials)('are refused in the default build: %j', (extra) => {
    expect(() => client(extra)).toThrow(RangeError);
  });

  it.each(credentials)('are taken in the production build: %j', (extra) => {
    vi.stubEnv('NODE_ENV', 'production');
    expect(() => client(extra)).not.toThrow();
  });
});

describe('what the production build still refuses', () => {
  beforeEach(() => {
    vi.stubEnv('NODE_ENV', 'production');
  });

  it('an invalid service name: other tabs would refuse the tab its needs, the server the subscription', () => {
    const rt = client();
    for (const service of ['', 'a b', 'a,b', 5 as unknown as string]) {
      expect(() => rt.subscribe(service, () => {})).toThrow(RangeError);
    }
    expect(rt.getState().services).toEqual([]);
  });

  it('an invalid property filter: its events would be filtered out (a comma splits it over SSE)', () => {
    const rt = client();
    for (const propertyId of ['', 'p1,p2', 5 as unknown as string]) {
      expect(() => rt.setPropertyFilter(propertyId)).toThrow(RangeError);
    }
    expect(rt.getState().propertyFilter).toBeNull();
  });

  it('a property filter no URL can carry: a lone surrogate', () => {
    // encodeURIComponent throws URIError on a lone surrogate where SSE and
    // long-poll build their URLs; other tabs drop the needs that carry one.
    const rt = client();
    for (const propertyId of ['\uD800', 'p\uDC00', '\uDE00\uD83D']) {
      expect(() => rt.setPropertyFilter(propertyId)).toThrow(RangeError);
      expect(() => rt.setPropertyFilter(propertyId)).toThrow(/^propertyId must be /);
    }
    expect(rt.getState().propertyFilter).toBeNull();
    // A well-formed pair is a character as any other.
    rt.setPropertyFilter('😀');
    expect(rt.getState().propertyFilter).toBe('😀');
  });

  it('takes a long property id: the protocol bounds none, and servers take them', () => {
    // Composite or path-like ids run over 100 chars; an app using them worked
    // before the lone-surrogate check, and must not start throwing in a patch.
    const rt = client();
    for (const propertyId of ['x'.repeat(101), `org/${'a'.repeat(300)}`, '😀'.repeat(101)]) {
      rt.setPropertyFilter(propertyId);
      expect(rt.getState().propertyFilter).toBe(propertyId);
    }
  });

  it('a misspelled flag in setFlags (a kill switch must not pass as nothing)', () => {
    const rt = client();
    expect(() => rt.setFlags({ emergencyDisabled: true } as never)).toThrow(RangeError);
    expect(rt.getState().flags.emergencyDisable).toBe(false);
  });

  it('a URL that cannot be resolved: there is none to use', () => {
    expect(() => client({ telemetry: { sampleRate: 0, url: 'http://[not a host' } })).toThrow(
      new RangeError('telemetry.url must be a URL, absolute or relative, got "http://[not a host"'),
    );
  });

  it('every method but off() and getState() of a closed client', async () => {
    const rt = client();
    await rt.close();
    expect(() => rt.subscribe('tasks', () => {})).toThrow(new TypeError('this realtime client is closed'));
    expect(() => rt.setPropertyFilter('p1')).toThrow(TypeError);
    expect(() => rt.trackMutation('m_1')).toThrow(TypeError);
    expect(() => rt.setFlags({ shadowMode: true })).toThrow(TypeError);
  });
});

describe('valid URLs in the production build', () => {
  /** The URLs a sampled client with a flags URL fetches (its flags poll, its last report on close). */
  async function fetched(mode: string, telemetryUrl: string, flagsUrl: RealtimeOptions['flagsUrl']) {
    vi.stubEnv('NODE_ENV', mode);
    const fetch = vi.fn(async (url: string | URL | Request) =>
      String(url).includes('flags') ? Response.json({}) : new Response(null, { status: 204 }),
    );
    const rt = client({
      url: 'https://api.example.com/v2/realtime/',
      telemetry: { sampleRate: 1, url: telemetryUrl },
      flagsUrl,
      platform: { fetch: fetch as typeof globalThis.fetch },
    });
    rt.subscribe('tasks', () => {});
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(0);
    await rt.close();
    return fetch.mock.calls.map(([url]) => String(url)).sort();
  }

  it.each([
    ['https://t.example.com/c', 'https://f.example.com/flags'],
    ['/telemetry/@me', { url: '/flags/@me?x=a@b', intervalMs: 30_000 }],
    ['./telemetry', '../flags'],
    ['//t.example.com/c', { url: '//f.example.com/flags' }],
    ['telemetry?x=1#y', 'flags.json'],
  ] satisfies [string, RealtimeOptions['flagsUrl']][])(
    'resolves telemetry.url %j and flagsUrl %j as the default build does',
    async (telemetryUrl, flagsUrl) => {
      const checked = await fetched('test', telemetryUrl, flagsUrl);
      // The poll and the report: both URLs were used.
      expect(checked).toHaveLength(2);
      expect(await fetched('production', telemetryUrl, flagsUrl)).toEqual(checked);
    },
  );
});
